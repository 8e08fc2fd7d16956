import Foundation
import KataribeHub
import KataribeTestSupport
import Testing

/// Tests/Fixtures/hub/python-cache was written by huggingface_hub's own snapshot_download
/// (tools/make_hub_cache_fixture.py), so these tests check compatibility with the real thing.
@Suite("Sharing the cache with huggingface_hub", .timeLimit(.minutes(1)))
struct PythonCacheTests {
    static let repoID = "kataribe-test/tiny-neox"
    static let commit = "5b3c1f0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c"
    static let fixture = TestPaths.fixture("hub/python-cache")

    /// The repository huggingface_hub downloaded, rebuilt from the fixture so the fake hub serves the same bytes.
    static func fixtureRepo() throws -> FakeRepo {
        let snapshot = fixture.appendingPathComponent("models--kataribe-test--tiny-neox/snapshots/\(commit)")
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: snapshot.path) {
            let content = try #require(snapshot.appendingPathComponent(name).readBytes())
            files[name] = content
        }
        return FakeRepo(id: repoID, commit: commit, files: files, lfs: ["model.safetensors"])
    }

    /// A writable copy of the fixture (symlinks kept as symlinks).
    static func copyFixture(to cache: URL) throws {
        let copy = Process()
        copy.executableURL = URL(fileURLWithPath: "/bin/cp")
        copy.arguments = ["-a", fixture.path + "/.", cache.path]
        try copy.run()
        copy.waitUntilExit()
        try #require(copy.terminationStatus == 0)
    }

    @Test("resolves a model huggingface_hub downloaded, offline")
    func readsPythonCacheOffline() async throws {
        try await withTemporaryDirectory { cache in
            try Self.copyFixture(to: cache)
            let client = HubClient(configuration: testConfiguration(hub: nil, cache: cache, offline: true))
            let snapshot = try await client.download(repo: Self.repoID)
            #expect(snapshot.commit == Self.commit)
            let config = try #require(snapshot.folder.appendingPathComponent("config.json").readBytes())
            #expect(String(decoding: config, as: UTF8.self).contains("gpt_neox"))
        }
    }

    @Test("reuses huggingface_hub's blobs online without transferring them again")
    func reusesPythonBlobsOnline() async throws {
        let repo = try Self.fixtureRepo()
        try await withFakeHub([repo]) { hub, client, cache in
            try Self.copyFixture(to: cache)
            let snapshot = try await client.download(repo: repo.id)
            #expect(snapshot.downloadedFiles.isEmpty)
            #expect(!hub.requests.contains { $0.method == "GET" && !$0.uri.hasPrefix("/api/") })
        }
    }

    @Test("lays out a repository exactly as huggingface_hub does")
    func sameLayoutAsPython() async throws {
        let repo = try Self.fixtureRepo()
        try await withFakeHub([repo]) { _, client, cache in
            _ = try await client.download(repo: repo.id)
            let ours = try Self.layout(cache.appendingPathComponent("models--kataribe-test--tiny-neox"))
            let python = try Self.layout(Self.fixture.appendingPathComponent("models--kataribe-test--tiny-neox"))
            #expect(ours == python)
            #expect(!ours.isEmpty)
        }
    }

    @Test("writes the same CACHEDIR.TAG")
    func cacheDirTag() async throws {
        let repo = try Self.fixtureRepo()
        try await withFakeHub([repo]) { _, client, cache in
            _ = try await client.download(repo: repo.id)
            #expect(cache.appendingPathComponent("CACHEDIR.TAG").readBytes() == Self.fixture.appendingPathComponent("CACHEDIR.TAG").readBytes())
        }
    }

    /// Every entry under blobs/, refs/ and snapshots/ with its content or link target.
    static func layout(_ folder: URL) throws -> [String: String] {
        var entries: [String: String] = [:]
        for sub in ["blobs", "refs", "snapshots"] {
            let base = folder.appendingPathComponent(sub)
            for relative in FileManager.default.subpaths(atPath: base.path) ?? [] {
                let url = base.appendingPathComponent(relative)
                let key = "\(sub)/\(relative)"
                if let target = url.symlinkDestination() {
                    entries[key] = "-> " + target
                } else if let bytes = url.readBytes() {
                    entries[key] = SHA256.hash(bytes)
                }
            }
        }
        return entries
    }
}
