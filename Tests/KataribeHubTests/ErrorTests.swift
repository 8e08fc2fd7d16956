import Foundation
import KataribeHub
import Testing

@Suite("Errors a user can act on", .timeLimit(.minutes(1)))
struct ErrorTests {
    @Test("401 without a token says the repository is private or gated and points to HF_TOKEN")
    func unauthorized() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, _ in
            hub.failModelInfo(status: 401)
            let error = await hubError { try await client.download(repo: Repos.tiny.id) }
            #expect(error == .authenticationRequired(repo: Repos.tiny.id, tokenSent: false))
            #expect(error?.description.contains("HF_TOKEN") == true)
        }
    }

    @Test("401 with a token says the token lacks access")
    func unauthorizedWithToken() async throws {
        try await withFakeHub([Repos.tiny], token: "hf_wrong") { hub, client, _ in
            hub.failModelInfo(status: 401)
            let error = await hubError { try await client.download(repo: Repos.tiny.id) }
            #expect(error == .authenticationRequired(repo: Repos.tiny.id, tokenSent: true))
            #expect(error?.description.contains("does not grant access") == true)
        }
    }

    @Test("an unknown repository is reported as not found, with the HF_TOKEN hint for private ones")
    func repositoryNotFound() async throws {
        try await withFakeHub([]) { hub, client, _ in
            let error = await hubError { try await client.download(repo: "nobody/nothing") }
            #expect(error == .repositoryNotFound(repo: "nobody/nothing", tokenSent: false))
            #expect(error?.description.contains("HF_TOKEN") == true)
        }
    }

    @Test("403 on a gated file explains the terms and the token, before any transfer starts")
    func gated() async throws {
        try await withFakeHub([Repos.tiny], token: "hf_user") { hub, client, _ in
            hub.inject(.status(403, headers: ["X-Error-Code": "GatedRepo"]), for: "model.safetensors")
            let error = await hubError { try await client.download(repo: Repos.tiny.id) }
            #expect(error == .accessDenied(repo: Repos.tiny.id, tokenSent: true))
            #expect(error?.description.contains("accept its terms") == true)
            #expect(!hub.requests.contains { $0.method == "GET" && $0.uri.contains("/resolve/") }, "metadata first, bytes later")
        }
    }

    @Test("404 on a revision names the revision")
    func revisionNotFound() async throws {
        try await withFakeHub([Repos.tiny]) { _, client, _ in
            let error = await hubError { try await client.download(repo: Repos.tiny.id, revision: "no-such-branch") }
            #expect(error == .revisionNotFound(repo: Repos.tiny.id, revision: "no-such-branch"))
        }
    }

    @Test("404 on a listed file names the file")
    func fileNotFound() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, _ in
            hub.inject(.status(404, headers: [:]), for: "tokenizer.json")
            let error = await hubError { try await client.download(repo: Repos.tiny.id) }
            #expect(error == .fileNotFound(repo: Repos.tiny.id, revision: FakeRepo.commitA, path: "tokenizer.json"))
        }
    }

    @Test("a repository without weights is refused")
    func noWeights() async throws {
        let repo = FakeRepo(id: "kataribe-test/empty", files: ["config.json": Array("{}".utf8)])
        try await withFakeHub([repo]) { _, client, _ in
            let error = await hubError { try await client.download(repo: repo.id) }
            #expect(error == .noWeights(repo: repo.id, revision: "main"))
        }
    }

    @Test("an index naming a shard the repository lacks is refused")
    func missingShard() async throws {
        let repo = Repos.sharded(
            "kataribe-test/broken", index: "pytorch_model.bin.index.json",
            shards: ["a.bin", "b.bin"], listed: ["a.bin"]
        )
        try await withFakeHub([repo]) { _, client, _ in
            let error = await hubError { try await client.download(repo: repo.id) }
            guard case .badShardIndex(_, let reason) = error else {
                Issue.record("expected a bad shard index, got \(String(describing: error))")
                return
            }
            #expect(reason.contains("b.bin"))
        }
    }

    @Test("a file name that would escape the snapshot folder is refused")
    func unsafePath() async throws {
        var repo = Repos.bothFormats
        repo.files["../../../evil.json"] = Array("{}".utf8)
        try await withFakeHub([repo]) { _, client, _ in
            let error = await hubError { try await client.download(repo: repo.id) }
            #expect(error == .unsafeFilePath(repo: repo.id, path: "../../../evil.json"))
        }
    }

    @Test("refuses to start a download that cannot fit on the disk")
    func diskSpace() async throws {
        try await withFakeHub([Repos.tiny]) { hub, client, _ in
            hub.inject(.announcedSize(1 << 62), for: "model.safetensors")
            let error = await hubError { try await client.download(repo: Repos.tiny.id) }
            guard case .insufficientDiskSpace = error else {
                Issue.record("expected insufficient disk space, got \(String(describing: error))")
                return
            }
            #expect(!hub.requests.contains { $0.server == .cdn })
        }
    }

    @Test("a cache folder that cannot be created is a file system error naming the path")
    func diskError() async throws {
        try await withTemporaryDirectory { folder in
            let blocker = folder.appendingPathComponent("not-a-folder")
            try Data("x".utf8).write(to: blocker)
            let hub = try await FakeHub.start([Repos.tiny])
            let client = HubClient(configuration: testConfiguration(hub: hub, cache: blocker.appendingPathComponent("hub")))
            let error = await hubError { try await client.download(repo: Repos.tiny.id) }
            await hub.stop()
            guard case .fileSystem(let path, _, _) = error else {
                Issue.record("expected a file system error, got \(String(describing: error))")
                return
            }
            #expect(path.hasPrefix(blocker.path))
        }
    }

    @Test("too many redirects stop the transfer")
    func redirectLoop() async throws {
        try await withFakeHub([Repos.bothFormats]) { hub, client, _ in
            hub.setCDNHops(30)
            let error = await hubError { try await client.download(repo: Repos.bothFormats.id) }
            guard case .tooManyRedirects = error else {
                Issue.record("expected too many redirects, got \(String(describing: error))")
                return
            }
        }
    }

    @Test("invalid ids and revisions are refused before any request", arguments: [
        ("not a repo", "main"), ("a/b/c", "main"), ("org/na--me", "main"), ("org/name", "../../etc"), ("org/name", ""),
    ])
    func invalidInput(id: String, revision: String) async throws {
        try await withFakeHub([]) { hub, client, _ in
            let error = await hubError { try await client.download(repo: id, revision: revision) }
            #expect(error == .invalidRepoID(id) || error == .invalidRevision(revision))
            #expect(hub.requests.isEmpty)
        }
    }
}
