import Foundation
import KataribeHub
import NIOConcurrencyHelpers
import Testing

@Suite("Downloading a model repository", .timeLimit(.minutes(1)))
struct DownloadTests {
    @Test("fetches config, tokenizer and weights into the huggingface_hub cache layout")
    func layout() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, cache in
            let repo = Repos.tiny
            let snapshot = try await client.download(repo: repo.id)

            let repoFolder = cache.appendingPathComponent("models--kataribe-test--tiny")
            #expect(snapshot.commit == FakeRepo.commitA)
            #expect(snapshot.folder == repoFolder.appendingPathComponent("snapshots/\(FakeRepo.commitA)"))
            let files = try FileManager.default.contentsOfDirectory(atPath: snapshot.folder.path).sorted()
            #expect(files == ["config.json", "generation_config.json", "model.safetensors", "spiece.model",
                              "tokenizer.json", "tokenizer_config.json"])
            for file in files {
                let link = snapshot.folder.appendingPathComponent(file)
                #expect(link.symlinkDestination() == "../../blobs/\(repo.etag(file)!)", "\(file) is a relative link to its blob")
                #expect(link.readBytes() == repo.files[file])
            }
            let ref = try String(contentsOf: repoFolder.appendingPathComponent("refs/main"), encoding: .utf8)
            #expect(ref == FakeRepo.commitA, "refs/main holds the bare commit hash, as Python writes it")
            let blobs = try FileManager.default.contentsOfDirectory(atPath: repoFolder.appendingPathComponent("blobs").path)
            #expect(!blobs.contains { $0.hasSuffix(".incomplete") })
            #expect(hub.contentRequests("README.md", in: repo).isEmpty)
            #expect(hub.contentRequests("onnx/model.onnx", in: repo).isEmpty)
            #expect(snapshot.downloadedBytes == Int64(files.reduce(0) { $0 + repo.files[$1]!.count }))
        }
    }

    @Test("records optional files the repository lacks as .no_exist markers, like huggingface_hub")
    func noExistMarkers() async throws {
        try await withFakeHub([Repos.bothFormats]) { _, client, cache in
            _ = try await client.download(repo: Repos.bothFormats.id)
            let marker = cache.appendingPathComponent("models--kataribe-test--both/.no_exist/\(FakeRepo.commitA)/tokenizer.json")
            #expect(FileManager.default.fileExists(atPath: marker.path))
        }
    }

    @Test("sends the token to the hub but never to the CDN host it redirects to")
    func tokenStaysOnTheHub() async throws {
        try await withFakeHub([Repos.tiny], token: "hf_secret") { hub, client, _ in
            _ = try await client.download(repo: Repos.tiny.id)
            let hubRequests = hub.requests.filter { $0.server == .hub }
            let cdnRequests = hub.requests.filter { $0.server == .cdn }
            #expect(!hubRequests.isEmpty && !cdnRequests.isEmpty)
            #expect(hubRequests.allSatisfy { $0.headers.first(name: "Authorization") == "Bearer hf_secret" })
            #expect(cdnRequests.allSatisfy { $0.headers.first(name: "Authorization") == nil })
        }
    }

    @Test("prefers safetensors when the repository has both weight formats")
    func prefersSafetensors() async throws {
        try await withFakeHub([Repos.bothFormats]) { hub, client, _ in
            let snapshot = try await client.download(repo: Repos.bothFormats.id)
            #expect(FileManager.default.fileExists(atPath: snapshot.folder.appendingPathComponent("model.safetensors").path))
            #expect(!FileManager.default.fileExists(atPath: snapshot.folder.appendingPathComponent("pytorch_model.bin").path))
            #expect(!hub.requests.contains { $0.uri.contains("pytorch_model.bin") }, "the .bin is not even asked about")
        }
    }

    @Test("follows a sharded PyTorch index to the shards it names", arguments: [Repos.shardedBin, Repos.shardedSafetensors])
    func shardedIndex(repo: FakeRepo) async throws {
        try await withFakeHub([repo]) { _, client, _ in
            let snapshot = try await client.download(repo: repo.id)
            let files = try FileManager.default.contentsOfDirectory(atPath: snapshot.folder.path).sorted()
            #expect(files == repo.files.keys.sorted())
            for file in files {
                #expect(snapshot.folder.appendingPathComponent(file).readBytes() == repo.files[file])
            }
        }
    }

    @Test("a second download of the same revision asks only which commit it is")
    func secondDownloadTransfersNothing() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, _ in
            _ = try await client.download(repo: Repos.tiny.id)
            let before = hub.requests.count
            let again = try await client.download(repo: Repos.tiny.id)
            let newRequests = hub.requests.dropFirst(before)
            #expect(newRequests.count == 1 && newRequests.first?.uri.hasPrefix("/api/models/") == true)
            #expect(again.downloadedFiles.isEmpty && again.downloadedBytes == 0)
        }
    }

    @Test("a commit hash whose snapshot is complete is answered from the cache without a request")
    func pinnedCommitNeedsNoNetwork() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, _ in
            let first = try await client.download(repo: Repos.tiny.id, revision: "main")
            let before = hub.requests.count
            let pinned = try await client.download(repo: Repos.tiny.id, revision: FakeRepo.commitA)
            #expect(pinned.folder == first.folder)
            #expect(hub.requests.count == before)
        }
    }

    @Test("a tag is resolved to its commit and recorded under refs/")
    func tagRevision() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, cache in
            let snapshot = try await client.download(repo: Repos.tiny.id, revision: "v1.0")
            #expect(snapshot.commit == FakeRepo.commitA)
            let ref = cache.appendingPathComponent("models--kataribe-test--tiny/refs/v1.0")
            #expect(try String(contentsOf: ref, encoding: .utf8) == FakeRepo.commitA)
            #expect(hub.requests.first?.uri == "/api/models/kataribe-test/tiny/revision/v1.0")
        }
    }

    @Test("a new commit on the branch gets its own snapshot and reuses unchanged blobs")
    func newCommitReusesBlobs() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, _ in
            _ = try await client.download(repo: Repos.tiny.id)
            var updated = Repos.tiny
            updated.commit = FakeRepo.commitB
            updated.refs["main"] = FakeRepo.commitB
            updated.files["config.json"] = Array(#"{"model_type": "gpt_neox", "v": 2}"#.utf8)
            hub.update(updated)
            let before = hub.requests.count
            let snapshot = try await client.download(repo: Repos.tiny.id)
            #expect(snapshot.commit == FakeRepo.commitB)
            #expect(snapshot.downloadedFiles == ["config.json"])
            #expect(snapshot.folder.appendingPathComponent("config.json").readBytes() == updated.files["config.json"])
            #expect(snapshot.folder.appendingPathComponent("model.safetensors").readBytes() == Repos.weights)
            #expect(!hub.requests.dropFirst(before).contains { $0.server == .cdn }, "unchanged LFS blobs are not fetched again")
        }
    }

    @Test("follows a chain of redirects on the CDN")
    func redirectChain() async throws {
        try await withFakeHub([Repos.bothFormats]) { hub, client, _ in
            hub.setCDNHops(3)
            let snapshot = try await client.download(repo: Repos.bothFormats.id)
            #expect(snapshot.folder.appendingPathComponent("model.safetensors").readBytes() == Repos.bothFormats.files["model.safetensors"])
            let hops = hub.requests.filter { $0.server == .cdn }.map(\.uri)
            #expect(hops.filter { $0.hasPrefix("/hop/") }.count == 3)
        }
    }

    @Test("reports progress up to the full size")
    func progress() async throws {
        try await withFakeHub([Repos.tiny]) { _, client, _ in
            let reports = ProgressLog()
            _ = try await client.download(repo: Repos.tiny.id) { reports.append($0) }
            let last = try #require(reports.all.last)
            #expect(last.isFinished && last.completedBytes == last.totalBytes && last.fractionCompleted == 1)
            #expect(last.completedFiles == last.totalFiles && last.totalFiles == 6)
            #expect(reports.all.map(\.completedBytes) == reports.all.map(\.completedBytes).sorted())
        }
    }

    @Test("the last report gives the whole transfer's average rate, not 0 B/s (this one ends before any rate window)")
    func finalRateIsTheAverage() async throws {
        try await withFakeHub([Repos.tiny]) { _, client, _ in
            let reports = ProgressLog()
            _ = try await client.download(repo: Repos.tiny.id) { reports.append($0) }
            let last = try #require(reports.all.last)
            #expect(last.isFinished && last.bytesPerSecond > 0 && last.bytesPerSecond.isFinite)
            #expect(ByteCountText.rate(last.bytesPerSecond) != "0 B/s")
        }
    }
}

final class ProgressLog: Sendable {
    private let reports = NIOLockedValueBox<[DownloadProgress]>([])
    func append(_ progress: DownloadProgress) { reports.withLockedValue { $0.append(progress) } }
    var all: [DownloadProgress] { reports.withLockedValue { $0 } }
}
