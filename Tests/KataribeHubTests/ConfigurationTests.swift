import Foundation
import KataribeHub
import Testing

@Suite("Reading the environment like huggingface_hub", .timeLimit(.minutes(1)))
struct ConfigurationTests {
    @Test("defaults: huggingface.co, ~/.cache/huggingface/hub, no token, online")
    func defaults() {
        let configuration = HubConfiguration.fromEnvironment(["HOME": "/home/u"])
        #expect(configuration.endpoint == "https://huggingface.co")
        #expect(configuration.cacheDirectory.path == "/home/u/.cache/huggingface/hub")
        #expect(configuration.token == nil && !configuration.offline)
        #expect(configuration.readTimeout == .seconds(10) && configuration.metadataTimeout == .seconds(10))
    }

    @Test("XDG_CACHE_HOME, HF_HOME and HF_HUB_CACHE move the cache, most specific first")
    func cacheLocation() {
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "XDG_CACHE_HOME": "/x"]).cacheDirectory.path == "/x/huggingface/hub")
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "XDG_CACHE_HOME": "/x", "HF_HOME": "/hf"]).cacheDirectory.path == "/hf/hub")
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "HF_HOME": "/hf", "HUGGINGFACE_HUB_CACHE": "/legacy"]).cacheDirectory.path == "/legacy")
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HUB_CACHE": "/new"]).cacheDirectory.path == "/new")
    }

    @Test("paths expand ~ and $VARIABLES")
    func expansion() {
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "HF_HOME": "~/hf"]).cacheDirectory.path == "/h/hf/hub")
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "D": "/data", "HF_HUB_CACHE": "${D}/hub-$D"]).cacheDirectory.path == "/data/hub-/data")
    }

    @Test("HF_TOKEN wins over the token file; the file is read from HF_HOME with its newline stripped")
    func token() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        try Data("hf_from_file\n".utf8).write(to: home.appendingPathComponent("token"))
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "HF_HOME": home.path]).token == "hf_from_file")
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "HF_HOME": home.path, "HF_TOKEN": " hf_env "]).token == "hf_env")
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "HUGGING_FACE_HUB_TOKEN": "hf_legacy"]).token == "hf_legacy")
        #expect(HubConfiguration.fromEnvironment(["HOME": "/h", "HF_TOKEN": ""]).token == nil)
    }

    @Test("HF_ENDPOINT and the timeouts are honoured")
    func endpointAndTimeouts() {
        let configuration = HubConfiguration.fromEnvironment([
            "HOME": "/h", "HF_ENDPOINT": "https://mirror.example/", "HF_HUB_ETAG_TIMEOUT": "3", "HF_HUB_DOWNLOAD_TIMEOUT": "60",
        ])
        #expect(configuration.endpoint == "https://mirror.example")
        #expect(configuration.metadataTimeout == .seconds(3) && configuration.readTimeout == .seconds(60))
    }
}

@Suite("Repository ids", .timeLimit(.minutes(1)))
struct RepoIDTests {
    @Test("valid ids map to huggingface_hub's folder names", arguments: [
        ("cyberagent/open-calm-7b", "models--cyberagent--open-calm-7b"),
        ("rinna/japanese-gpt-neox-3.6b-instruction-sft", "models--rinna--japanese-gpt-neox-3.6b-instruction-sft"),
        ("gpt2", "models--gpt2"),
    ])
    func folderNames(id: String, folder: String) throws {
        let repo = try RepoID(id)
        #expect(repo.cacheFolderName == folder)
        #expect(RepoID(cacheFolderName: folder) == repo)
    }

    @Test("invalid ids are refused", arguments: ["", "/x", "a/", "a/b/c", "a--b/c", "a/..b", "-a/b", "a b/c", String(repeating: "a", count: 97)])
    func invalid(id: String) {
        #expect(throws: HubError.invalidRepoID(id)) { try RepoID(id) }
    }

    @Test("folders of datasets and spaces are not models")
    func foreignFolders() {
        #expect(RepoID(cacheFolderName: "datasets--org--name") == nil)
        #expect(RepoID(cacheFolderName: ".locks") == nil)
    }
}
