import Foundation
import KataribeHub
import Testing

@Suite("Surviving a bad network", .timeLimit(.minutes(1)))
struct ResilienceTests {
    let repo = Repos.tiny
    var weightsETag: String { repo.etag("model.safetensors")! }

    @Test("resumes with an HTTP Range request after the connection drops mid-file")
    func resumeAfterDrop() async throws {
        try await withFakeHub([repo]) { hub, client, _ in
            hub.inject(.dropAfter(bytes: 100_000), for: "model.safetensors")
            let snapshot = try await client.download(repo: repo.id)
            #expect(snapshot.folder.appendingPathComponent("model.safetensors").readBytes() == Repos.weights)
            let transfers = hub.contentRequests("model.safetensors", in: repo)
            #expect(transfers.count == 2)
            let range = try #require(transfers.last?.headers.first(name: "Range"))
            let offset = try #require(Int(range.dropFirst("bytes=".count).dropLast()))
            #expect(range.hasPrefix("bytes=") && offset > 0 && offset <= 100_000)
        }
    }

    @Test("resumes a partial blob left by an interrupted earlier run")
    func resumeAcrossRuns() async throws {
        try await withFakeHub([repo]) { hub, client, cache in
            let blobs = cache.appendingPathComponent("models--kataribe-test--tiny/blobs")
            try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
            try Data(Repos.weights.prefix(120_000)).write(to: blobs.appendingPathComponent(weightsETag + ".incomplete"))

            let snapshot = try await client.download(repo: repo.id)
            #expect(snapshot.folder.appendingPathComponent("model.safetensors").readBytes() == Repos.weights)
            let transfers = hub.contentRequests("model.safetensors", in: repo)
            #expect(transfers.map { $0.headers.first(name: "Range") } == ["bytes=120000-"])
            #expect(!FileManager.default.fileExists(atPath: blobs.appendingPathComponent(weightsETag + ".incomplete").path))
        }
    }

    @Test("rejects a transfer whose sha256 differs from the ETag and places nothing")
    func checksumMismatch() async throws {
        try await withFakeHub([repo]) { hub, client, cache in
            hub.inject(.corrupt, for: "model.safetensors", times: 10)
            let error = await hubError { try await client.download(repo: repo.id) }
            guard case .checksumMismatch(_, let path, let expected, _) = error else {
                Issue.record("expected a checksum mismatch, got \(String(describing: error))")
                return
            }
            #expect(path == "model.safetensors" && expected == weightsETag)
            let repoFolder = cache.appendingPathComponent("models--kataribe-test--tiny")
            let blobs = try FileManager.default.contentsOfDirectory(atPath: repoFolder.appendingPathComponent("blobs").path)
            #expect(!blobs.contains { $0.hasPrefix(weightsETag) }, "neither the blob nor a partial file is left")
            let link = repoFolder.appendingPathComponent("snapshots/\(FakeRepo.commitA)/model.safetensors")
            #expect(link.symlinkDestination() == nil)
        }
    }

    @Test("verifies small git files against their git blob sha1 as well")
    func gitBlobChecksum() async throws {
        try await withFakeHub([repo]) { hub, client, _ in
            hub.inject(.corrupt, for: "config.json", times: 10)
            let error = await hubError { try await client.download(repo: repo.id) }
            guard case .checksumMismatch(_, "config.json", _, _) = error else {
                Issue.record("expected a checksum mismatch on config.json, got \(String(describing: error))")
                return
            }
        }
    }

    @Test("waits for a slow server that answers within the timeout")
    func slowServer() async throws {
        try await withFakeHub([repo], readTimeout: .seconds(3)) { hub, client, _ in
            hub.inject(.delay(seconds: 0.5), for: "model.safetensors")
            let snapshot = try await client.download(repo: repo.id)
            #expect(snapshot.folder.appendingPathComponent("model.safetensors").readBytes() == Repos.weights)
            #expect(hub.contentRequests("model.safetensors", in: repo).count == 1)
        }
    }

    @Test("a stall mid-file times out, then the transfer resumes and completes")
    func stallThenResume() async throws {
        try await withFakeHub([repo], readTimeout: .seconds(1)) { hub, client, _ in
            hub.inject(.stallAfter(bytes: 50_000, seconds: 10), for: "model.safetensors")
            let snapshot = try await client.download(repo: repo.id)
            #expect(snapshot.folder.appendingPathComponent("model.safetensors").readBytes() == Repos.weights)
            #expect(hub.contentRequests("model.safetensors", in: repo).last?.headers.first(name: "Range") != nil)
        }
    }

    @Test("gives up with a timeout error on a server that never sends data, keeping what it has")
    func persistentStall() async throws {
        try await withFakeHub([repo], readTimeout: .seconds(1), maxRetries: 1) { hub, client, _ in
            hub.inject(.stallAfter(bytes: 0, seconds: 10), for: "model.safetensors", times: 100)
            let error = await hubError { try await client.download(repo: repo.id) }
            guard case .timedOut = error else {
                Issue.record("expected a timeout, got \(String(describing: error))")
                return
            }
            #expect(error?.description.contains("HF_HUB_DOWNLOAD_TIMEOUT") == true)
            #expect(hub.contentRequests("model.safetensors", in: repo).count == 2, "one try and one retry")
        }
    }

    @Test("retries transient server errors with backoff")
    func retriesServerErrors() async throws {
        try await withFakeHub([repo]) { hub, client, _ in
            hub.inject(.status(503, headers: [:]), for: "config.json", times: 2)
            let snapshot = try await client.download(repo: repo.id)
            #expect(snapshot.folder.appendingPathComponent("config.json").readBytes() == repo.files["config.json"])
            #expect(hub.requests.filter { $0.method == "HEAD" && $0.uri.hasSuffix("/config.json") }.count == 3)
        }
    }

    @Test("reports a server error that persists after the retries")
    func persistentServerError() async throws {
        try await withFakeHub([repo], maxRetries: 2) { hub, client, _ in
            hub.inject(.status(500, headers: [:]), for: "config.json", times: 100)
            let error = await hubError { try await client.download(repo: repo.id) }
            guard case .httpStatus(_, 500, _) = error else {
                Issue.record("expected HTTP 500, got \(String(describing: error))")
                return
            }
        }
    }

    @Test("with the hub failing, a complete cached snapshot still answers, as in huggingface_hub")
    func fallsBackToCache() async throws {
        try await withFakeHub([repo, Repos.bothFormats], maxRetries: 1) { hub, client, _ in
            let downloaded = try await client.download(repo: repo.id)
            hub.failModelInfo(status: 503)
            let again = try await client.download(repo: repo.id)
            #expect(again.folder == downloaded.folder && again.downloadedFiles.isEmpty)
            let error = await hubError { try await client.download(repo: Repos.bothFormats.id) }
            guard case .httpStatus(_, 503, _) = error else {
                Issue.record("an uncached model reports the server error, got \(String(describing: error))")
                return
            }
        }
    }

    @Test("starts over when the server answers a Range request with the whole file")
    func serverIgnoresRange() async throws {
        try await withFakeHub([repo]) { hub, client, cache in
            let blobs = cache.appendingPathComponent("models--kataribe-test--tiny/blobs")
            try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
            try Data(Repos.weights.prefix(50_000)).write(to: blobs.appendingPathComponent(weightsETag + ".incomplete"))
            hub.inject(.ignoreRange, for: "model.safetensors")
            let snapshot = try await client.download(repo: repo.id)
            #expect(snapshot.folder.appendingPathComponent("model.safetensors").readBytes() == Repos.weights)
            #expect(hub.contentRequests("model.safetensors", in: repo).map { $0.headers.first(name: "Range") } == ["bytes=50000-"])
        }
    }

    @Test("a partial file that is already complete (a crash before the rename) is verified and placed without a transfer")
    func completePartial() async throws {
        try await withFakeHub([repo]) { hub, client, cache in
            let blobs = cache.appendingPathComponent("models--kataribe-test--tiny/blobs")
            try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
            try Data(Repos.weights).write(to: blobs.appendingPathComponent(weightsETag + ".incomplete"))
            let snapshot = try await client.download(repo: repo.id)
            #expect(snapshot.folder.appendingPathComponent("model.safetensors").readBytes() == Repos.weights)
            #expect(hub.contentRequests("model.safetensors", in: repo).isEmpty)
        }
    }
}
