import Foundation
import KataribeHub
import Testing

@Suite("Offline mode (HF_HUB_OFFLINE)", .timeLimit(.minutes(1)))
struct OfflineTests {
    @Test("resolves a downloaded model from the cache without a single request")
    func offlineFromCache() async throws {
        try await withFakeHub([Repos.tiny]) { hub, online, cache in
            let downloaded = try await online.download(repo: Repos.tiny.id)
            let before = hub.requests.count
            let offline = HubClient(configuration: testConfiguration(hub: hub, cache: cache, offline: true))
            for revision in ["main", FakeRepo.commitA] {
                let snapshot = try await offline.download(repo: Repos.tiny.id, revision: revision)
                #expect(snapshot.folder == downloaded.folder)
            }
            #expect(hub.requests.count == before, "offline mode never touches the network")
        }
    }

    @Test("fails clearly, without a request, when the model is not cached")
    func offlineNotCached() async throws {
        try await withFakeHub([Repos.tiny]) { hub, _, cache in
            let offline = HubClient(configuration: testConfiguration(hub: hub, cache: cache, offline: true))
            let error = await hubError { try await offline.download(repo: Repos.tiny.id) }
            #expect(error == .notInCacheOffline(repo: Repos.tiny.id, revision: "main", cache: cache.path))
            #expect(error?.description.contains("HF_HUB_OFFLINE") == true)
            #expect(hub.requests.isEmpty)
        }
    }

    @Test("refuses a snapshot an interrupted download left incomplete, naming what is missing")
    func offlinePartialSnapshot() async throws {
        try await withFakeHub([Repos.shardedBin]) { hub, online, cache in
            let snapshot = try await online.download(repo: Repos.shardedBin.id)
            try FileManager.default.removeItem(at: snapshot.folder.appendingPathComponent("pytorch_model-00002-of-00002.bin"))
            let offline = HubClient(configuration: testConfiguration(hub: hub, cache: cache, offline: true))
            let error = await hubError { try await offline.download(repo: Repos.shardedBin.id) }
            #expect(error == .incompleteSnapshot(
                repo: Repos.shardedBin.id, commit: FakeRepo.commitA, missing: ["pytorch_model-00002-of-00002.bin"]
            ))
        }
    }

    @Test("HF_HUB_OFFLINE=1 in the environment switches offline mode on")
    func environmentSwitch() {
        for value in ["1", "ON", "yes", "True"] {
            #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "HF_HUB_OFFLINE": value]).offline)
        }
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "TRANSFORMERS_OFFLINE": "1"]).offline)
        #expect(!HubConfiguration.fromEnvironment(["HOME": "/h", "HF_HUB_OFFLINE": "0"]).offline)
        #expect(!HubConfiguration.fromEnvironment(["HOME": "/h"]).offline)
    }
}
