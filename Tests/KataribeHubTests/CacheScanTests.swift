import Foundation
import KataribeHub
import Testing

@Suite("Listing the models in the cache", .timeLimit(.minutes(1)))
struct CacheScanTests {
    @Test("lists each model with its revisions, refs, file counts and size on disk")
    func listsModels() async throws {
        try await withFakeHub([Repos.tiny, Repos.shardedBin]) { _, client, cache in
            _ = try await client.download(repo: Repos.tiny.id)
            _ = try await client.download(repo: Repos.shardedBin.id)
            try FileManager.default.createDirectory(
                at: cache.appendingPathComponent("datasets--someone--data/snapshots"), withIntermediateDirectories: true
            )
            let models = try client.cache.models()
            #expect(models.map(\.repo) == [Repos.shardedBin.id, Repos.tiny.id])

            let tiny = try #require(models.last)
            let revision = try #require(tiny.revisions.first)
            #expect(revision.commit == FakeRepo.commitA && revision.refs == ["main"])
            #expect(revision.files == 6 && revision.isComplete)
            let expectedSize = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                                "spiece.model", "model.safetensors"].reduce(0) { $0 + Repos.tiny.files[$1]!.count }
            #expect(revision.sizeOnDisk == Int64(expectedSize) && tiny.sizeOnDisk == Int64(expectedSize))
            #expect(tiny.partialBytes == 0)
        }
    }

    @Test("counts interrupted downloads and flags incomplete snapshots")
    func partials() async throws {
        try await withFakeHub([Repos.tiny]) { _, client, cache in
            let snapshot = try await client.download(repo: Repos.tiny.id)
            try FileManager.default.removeItem(at: snapshot.folder.appendingPathComponent("model.safetensors"))
            let blobs = cache.appendingPathComponent("models--kataribe-test--tiny/blobs")
            try Data(repeating: 7, count: 1_000).write(to: blobs.appendingPathComponent(String(repeating: "e", count: 64) + ".incomplete"))

            let model = try #require(try client.cache.models().first)
            #expect(model.partialBytes == 1_000)
            #expect(model.revisions.first?.isComplete == false)
            #expect(model.revisions.first?.files == 5)
        }
    }

    @Test("a repository whose first download was interrupted is listed with its partial bytes")
    func interruptedFirstDownload() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-scan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let blobs = cache.appendingPathComponent("models--org--name/blobs")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        try Data(repeating: 1, count: 10).write(to: blobs.appendingPathComponent("abc.incomplete"))
        let models = try HubCache(root: cache).models()
        #expect(models.map(\.repo) == ["org/name"])
        #expect(models.first?.partialBytes == 10 && models.first?.sizeOnDisk == 0 && models.first?.revisions == [])
    }

    @Test("encodes to JSON with snake_case keys, like every other --json output")
    func snakeCaseJSON() async throws {
        try await withFakeHub([Repos.tiny]) { _, client, _ in
            _ = try await client.download(repo: Repos.tiny.id)
            let models = try client.cache.models()
            let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(models)) as? [[String: Any]])
            #expect(Set(json[0].keys) == ["repo", "size_on_disk", "partial_bytes", "revisions", "path"])
            let revision = try #require((json[0]["revisions"] as? [[String: Any]])?.first)
            #expect(Set(revision.keys) == ["commit", "refs", "files", "size_on_disk", "is_complete", "path"])
            #expect(try JSONDecoder().decode([CachedModel].self, from: JSONEncoder().encode(models)) == models)
        }
    }

    @Test("an absent cache folder lists nothing")
    func emptyCache() throws {
        let cache = HubCache(root: URL(fileURLWithPath: "/nonexistent/kataribe/cache"))
        #expect(try cache.models().isEmpty)
    }
}
