import Foundation
import KataribeHub
import Testing

@Suite("Resolving what the user typed", .timeLimit(.minutes(1)))
struct ModelLocatorTests {
    @Test("an existing folder is used as it is, without a request")
    func explicitFolder() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, cache in
            let locator = ModelLocator(hub: client)
            let located = try await locator.resolve(cache.path)
            #expect(located.origin == .localFolder && located.folder.path == cache.standardizedFileURL.path)
            #expect(hub.requests.isEmpty)
        }
    }

    @Test("a file or a missing path is an error, not a repository id")
    func badPaths() async throws {
        try await withFakeHub([]) { hub, client, cache in
            let file = cache.appendingPathComponent("config.json")
            try Data("{}".utf8).write(to: file)
            let locator = ModelLocator(hub: client)
            #expect(await hubError { try await locator.resolve(file.path) } == .localPathNotAFolder(file.path))
            #expect(await hubError { try await locator.resolve("./no/such/model") } == .localPathNotFound("./no/such/model"))
            #expect(hub.requests.isEmpty)
        }
    }

    @Test("a model in the cache is used without a request; one that is not is downloaded")
    func cacheThenDownload() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, _ in
            let locator = ModelLocator(hub: client)
            let first = try await locator.resolve(Repos.tiny.id)
            #expect(first.origin == .download)
            let count = hub.requests.count
            let second = try await locator.resolve(Repos.tiny.id)
            #expect(second.origin == .cache && second.folder == first.folder && second.repo?.rawValue == Repos.tiny.id)
            #expect(hub.requests.count == count)
        }
    }

    @Test("offline resolution of an uncached model fails without a request")
    func offlineOverride() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, cache in
            let locator = ModelLocator(hub: client)
            let error = await hubError { try await locator.resolve(Repos.tiny.id, offline: true) }
            #expect(error == .notInCacheOffline(repo: Repos.tiny.id, revision: "main", cache: cache.path))
            #expect(hub.requests.isEmpty)
        }
    }
}
