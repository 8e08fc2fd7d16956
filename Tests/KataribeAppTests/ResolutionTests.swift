import Foundation
import KataribeApp
import KataribeGeneration
import KataribeHub
import KataribeModels
import KataribeTestSupport
import Synchronization
import Testing

/// A fresh temporary folder, removed afterwards.
func withTemporaryFolder<T>(_ body: (URL) async throws -> T) async throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-app-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try await body(folder)
}

/// A copy of a fixture model folder (symlinks resolved) at `destination`.
func copyModel(_ source: URL, to destination: URL, skipping: Set<String> = []) throws {
    try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
    for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where !skipping.contains(name) {
        let data = try Data(contentsOf: source.appendingPathComponent(name).resolvingSymlinksInPath())
        try data.write(to: destination.appendingPathComponent(name))
    }
}

/// A hub client on an empty cache that never touches the network.
func offlineHub(cache: URL) -> HubClient {
    var configuration = HubConfiguration.fromEnvironment()
    configuration.cacheDirectory = cache
    configuration.offline = true
    return HubClient(configuration: configuration)
}

@Suite("Turning model names into folders and presets", .timeLimit(.minutes(1)))
struct ResolutionTests {
    @Test("demo models are searched in $KATARIBE_MODELS_DIR, next to the executable, in the checkout it was built in, then in ./Models")
    func searchOrder() {
        // An installed binary: no checkout above it.
        let installed = DemoModelSource.defaultSearchDirectories(
            environment: ["KATARIBE_MODELS_DIR": "/opt/models"], executable: URL(fileURLWithPath: "/usr/local/bin/kataribe"),
            currentDirectory: URL(fileURLWithPath: "/work/here"))
        #expect(installed.map(\.path) == ["/opt/models", "/usr/local/share/kataribe/Models", "/work/here/Models"])
        // A build inside this checkout finds the checkout's Models at run time.
        let built = TestPaths.packageRoot.appendingPathComponent(".build/x86_64-unknown-linux-gnu/release/kataribe")
        let folders = DemoModelSource.defaultSearchDirectories(environment: [:], executable: built,
                                                               currentDirectory: URL(fileURLWithPath: "/x"))
        #expect(folders.map(\.path).dropFirst().first == TestPaths.packageRoot.appendingPathComponent("Models").standardizedFileURL.path)
        let withoutVariable = DemoModelSource.defaultSearchDirectories(environment: [:], executable: nil,
                                                                        currentDirectory: URL(fileURLWithPath: "/x"))
        #expect(withoutVariable.map(\.path) == ["/x/Models"])
    }

    @Test("the first folder that has the demo model wins; a missing one is reported with every place searched")
    func demoLookup() async throws {
        try await withTemporaryFolder { root in
            let first = root.appendingPathComponent("first"), second = root.appendingPathComponent("second")
            try copyModel(Fixtures.calmFolder, to: second.appendingPathComponent("demo-calm"))
            try copyModel(Fixtures.calmFolder, to: first.appendingPathComponent("demo-calm"))
            let demos = DemoModelSource(searchDirectories: [root.appendingPathComponent("none"), first, second])
            let calm = try #require(demos.preset(named: "demo-calm"))
            #expect(try demos.folder(for: calm).path == first.appendingPathComponent("demo-calm").standardizedFileURL.path)
            let rinna = try #require(demos.preset(named: "demo-rinna-sft"))
            #expect(throws: ModelLoadError.self) { try demos.folder(for: rinna) }
            do {
                _ = try demos.folder(for: rinna)
            } catch let error as ModelLoadError {
                #expect(error.description.contains(first.path) && error.description.contains("KATARIBE_MODELS_DIR"))
            }
            #expect(try await demos.locate("not-a-demo", revision: nil, offline: true) == nil)
        }
    }

    @Test("a demo name resolves to its folder and preset, loads, and generates")
    func demoName() async throws {
        try await withTemporaryFolder { root in
            try copyModel(Fixtures.calmFolder, to: root.appendingPathComponent("demo-calm"))
            let resolver = ModelResolver(hub: offlineHub(cache: root.appendingPathComponent("cache")),
                                         demos: DemoModelSource(searchDirectories: [root]))
            let resolved = try await resolver.resolve("demo-calm")
            #expect(resolved.preset.id == "demo-calm" && resolved.presetOrigin == .matched)
            #expect(resolved.location.origin == .source("demo"))
            let model = try await LoadedModel.load("demo-calm", resolver: resolver)
            let summary = try await TextGenerator(model: model).generate(prompt: "吾輩は", parameters: greedy(maxNewTokens: 3)).collect()
            #expect(summary.samples[0].tokens.count == 3)
        }
    }

    @Test("an unknown single word is refused with the demo models and presets listed")
    func unknownName() async throws {
        try await withTemporaryFolder { root in
            let resolver = ModelResolver(hub: offlineHub(cache: root), demos: DemoModelSource(searchDirectories: [root]))
            do {
                _ = try await resolver.resolve("demo-calmm")
                Issue.record("resolved an unknown name")
            } catch let error as ModelLoadError {
                guard case .unknownModel(let name, let demos, let presets) = error else { Issue.record("\(error)"); return }
                #expect(name == "demo-calmm" && demos == ["demo-calm", "demo-rinna-sft"] && presets.contains("open-calm-7b"))
                #expect(error.description.contains("demo-calm, demo-rinna-sft") && error.description.contains("kataribe models"))
            }
        }
    }

    @Test("a preset id means its hub repository (offline on an empty cache: a cache error naming it)")
    func presetToHub() async throws {
        try await withTemporaryFolder { root in
            let resolver = ModelResolver(hub: offlineHub(cache: root), demos: DemoModelSource(searchDirectories: [root]))
            for name in ["open-calm-small", "cyberagent/open-calm-small"] {
                do {
                    _ = try await resolver.resolve(name)
                    Issue.record("resolved \(name) from an empty cache")
                } catch let error as ModelLoadError {
                    guard case .location(_, .notInCacheOffline(let repo, _, _)) = error else { Issue.record("\(error)"); continue }
                    #expect(repo == "cyberagent/open-calm-small")
                }
            }
        }
    }

    @Test("a missing path is reported as a missing folder")
    func missingPath() async throws {
        try await withTemporaryFolder { root in
            let resolver = ModelResolver(hub: offlineHub(cache: root), demos: DemoModelSource(searchDirectories: [root]))
            do {
                _ = try await resolver.resolve("./no/such/model")
                Issue.record("resolved a missing folder")
            } catch let error as ModelLoadError {
                guard case .location(_, .localPathNotFound) = error else { Issue.record("\(error)"); return }
            }
        }
    }

    @Test("a folder no preset names gets its tokenizer family's settings; --preset replaces them")
    func folderPresets() async throws {
        try await withTemporaryFolder { root in
            let resolver = ModelResolver(hub: offlineHub(cache: root), demos: DemoModelSource(searchDirectories: [root]))
            let calm = try await resolver.resolve(Fixtures.calmFolder.path)
            #expect(calm.presetOrigin == .inferred && calm.preset.tokenizer == .fast && calm.preset.addSpecialTokens)
            #expect(calm.preset.generation == ModelPresetCatalog.openCalmGeneration)
            let rinna = try await resolver.resolve(Fixtures.rinnaFolder.path)
            #expect(rinna.presetOrigin == .inferred && rinna.preset.tokenizer == .slow && !rinna.preset.addSpecialTokens)
            let chat = try await resolver.resolve(Fixtures.rinnaFolder.path, preset: "rinna-3.6b-sft-v2")
            #expect(chat.presetOrigin == .requested && chat.preset.promptFormat == .rinnaChat)
            await #expect(throws: ModelLoadError.self) { try await resolver.resolve(Fixtures.rinnaFolder.path, preset: "nope") }
        }
    }

    @Test("a snapshot folder in the Hugging Face cache layout is matched to its repository's preset")
    func cacheLayoutFolder() async throws {
        try await withTemporaryFolder { root in
            let snapshot = root.appendingPathComponent("models--cyberagent--open-calm-small/snapshots/0123abcd")
            try copyModel(Fixtures.calmFolder, to: snapshot)
            let resolver = ModelResolver(hub: offlineHub(cache: root.appendingPathComponent("cache")),
                                         demos: DemoModelSource(searchDirectories: []))
            let resolved = try await resolver.resolve(snapshot.path)
            #expect(resolved.preset.id == "open-calm-small" && resolved.presetOrigin == .matched)
        }
    }
}

@Suite("One resolver for every command and for suites", .timeLimit(.minutes(1)))
struct ResolverTests {
    @Test("a name is a folder, a demo model, a preset's hub repository or a hub id; any other word is unknown")
    func references() async throws {
        try await withTemporaryFolder { root in
            let resolver = ModelResolver(hub: offlineHub(cache: root), demos: DemoModelSource(searchDirectories: [root]))
            let demo = try #require(resolver.catalogPreset(named: "demo-calm"))
            #expect(try resolver.reference(for: "demo-calm") == .demo(demo))
            let small = try #require(resolver.catalogPreset(named: "open-calm-small"))
            #expect(try resolver.reference(for: "open-calm-small") == .hub(repo: "cyberagent/open-calm-small", preset: small))
            #expect(try resolver.reference(for: "cyberagent/open-calm-small") == .hub(repo: "cyberagent/open-calm-small", preset: small))
            #expect(try resolver.reference(for: "org/other-model") == .hub(repo: "org/other-model", preset: nil))
            #expect(try resolver.reference(for: Fixtures.calmFolder.path) == .folder(Fixtures.calmFolder.path))
            #expect(try resolver.reference(for: "./not/here") == .folder("./not/here"))
            #expect(throws: ModelLoadError.self) { try resolver.reference(for: "gpt-5") }
        }
    }

    @Test("suites get the preset `resolve` would choose, without downloading; an unknown hub id has none yet")
    func plannedPresets() async throws {
        try await withTemporaryFolder { root in
            let resolver = ModelResolver(hub: offlineHub(cache: root), demos: DemoModelSource(searchDirectories: [root]))
            #expect(try resolver.plannedPreset(for: "demo-rinna-sft").map { [$0.preset.id, $0.origin.rawValue] } == ["demo-rinna-sft", "matched"])
            #expect(try resolver.plannedPreset(for: "rinna/japanese-gpt-neox-3.6b")?.preset.id == "rinna-3.6b")
            #expect(try resolver.plannedPreset(for: "org/other-model") == nil)
            // A folder named like a repository is that repository's model, present or not (yet).
            #expect(try resolver.plannedPreset(for: "/data/japanese-gpt-neox-3.6b-instruction-ppo")?.preset.id == "rinna-3.6b-ppo")
            #expect(try resolver.plannedPreset(for: "/data/unknown-model") == nil)
            let inferred = try #require(try resolver.plannedPreset(for: Fixtures.rinnaFolder.path))
            #expect(inferred.origin == .inferred && inferred.preset.tokenizer == .slow)
            let resolved = try await resolver.resolve(Fixtures.rinnaFolder.path)
            #expect(resolved.preset == inferred.preset && resolved.presetOrigin == .inferred)
            let requested = try #require(try resolver.plannedPreset(for: Fixtures.rinnaFolder.path, preset: "rinna-3.6b-sft-v2"))
            #expect(requested.origin == .requested && requested.preset.promptFormat.hasTurns)
            #expect(throws: ModelLoadError.self) { try resolver.plannedPreset(for: Fixtures.rinnaFolder.path, preset: "nope") }
        }
    }

    @Test("locate finds a demo model's folder without choosing a preset")
    func locateDemo() async throws {
        try await withTemporaryFolder { root in
            try copyModel(Fixtures.calmFolder, to: root.appendingPathComponent("demo-calm"))
            let resolver = ModelResolver(hub: offlineHub(cache: root.appendingPathComponent("cache")),
                                         demos: DemoModelSource(searchDirectories: [root]))
            let located = try await resolver.locate("demo-calm")
            #expect(located.origin == .source("demo") && located.folder.lastPathComponent == "demo-calm")
        }
    }

    @Test("loading a folder no preset matches sends one note naming the settings and how to choose; a chosen preset sends none")
    func inferredNotice() async throws {
        try await withTemporaryFolder { root in
            let resolver = ModelResolver(hub: offlineHub(cache: root), demos: DemoModelSource(searchDirectories: [root]))
            let notes = Notes()
            let options = ModelLoadOptions(threads: 1, notices: { notes.add($0) })
            _ = try await LoadedModel.load(Fixtures.rinnaFolder.path, options: options, resolver: resolver)
            #expect(notes.all.count == 1)
            let note = try #require(notes.all.first)
            #expect(note.contains(Fixtures.rinnaFolder.path) && note.contains("rinna-3.6b") && note.contains("plain prompts"))
            #expect(note.contains("--preset ID") && note.contains("preset: ID") && !note.contains("\n"))
            var chosen = options
            chosen.preset = "rinna-3.6b-sft-v2"
            _ = try await LoadedModel.load(Fixtures.rinnaFolder.path, options: chosen, resolver: resolver)
            #expect(notes.all.count == 1)
        }
    }
}

/// Notes a loader sent, from whichever thread.
private final class Notes: Sendable {
    private let notes = Mutex<[String]>([])
    func add(_ note: String) { notes.withLock { $0.append(note) } }
    var all: [String] { notes.withLock { $0 } }
}

@Suite("Generation defaults: preset over the model's config, the caller over both", .timeLimit(.minutes(1)))
struct GenerationDefaultsTests {
    @Test("generation_config.json is read; without it config.json's eos/pad ids are used, as transformers does")
    func modelConfig() async throws {
        #expect(try ModelGenerationConfig.read(folder: Fixtures.calmFolder).eosTokenIds == [0])
        try await withTemporaryFolder { root in
            try copyModel(Fixtures.rinnaFolder, to: root, skipping: ["generation_config.json"])
            let parameters = try ModelGenerationConfig.read(folder: root)
            #expect(parameters.eosTokenIds == [3])
            #expect(parameters.doSample == nil && parameters.maxNewTokens == nil)
        }
    }

    @Test("without generation_config.json the settings come from the config.json the loader read, not a second read")
    func configReadOnce() async throws {
        try await withTemporaryFolder { root in
            try copyModel(Fixtures.rinnaFolder, to: root, skipping: ["generation_config.json"])
            let config = try ModelLoader.readConfigFile(directory: root)
            // Changed on disk after the loader's read: a second read would see eos 7.
            let object = try #require(try JSONSerialization.jsonObject(with: config.data) as? [String: Any])
            try JSONSerialization.data(withJSONObject: object.merging(["eos_token_id": 7]) { $1 })
                .write(to: root.appendingPathComponent("config.json"))
            #expect(try ModelGenerationConfig.read(folder: root, config: config).eosTokenIds == [3])
            #expect(try ModelGenerationConfig.read(folder: root).eosTokenIds == [7])
        }
    }

    @Test("precedence: caller ← suite ← preset ← generation_config.json")
    func precedence() async throws {
        try await withTemporaryFolder { root in
            try copyModel(Fixtures.calmFolder, to: root, skipping: ["generation_config.json"])
            try Data(#"{"eos_token_id": 5, "temperature": 0.3, "top_k": 7, "do_sample": false}"#.utf8)
                .write(to: root.appendingPathComponent("generation_config.json"))
            let model = try LoadedModel(folder: root, preset: Fixtures.preset("open-calm-small"))
            let defaults = model.generationDefaults
            #expect(defaults.temperature == 0.7 && defaults.doSample == true)  // the card's settings win
            #expect(defaults.topK == 7 && defaults.eosTokenIds == [5])        // what the card leaves unset
            let suite = GenerationParameters(topP: 0.5, maxNewTokens: 10)
            let cli = GenerationParameters(temperature: 0.2, maxNewTokens: 3)
            let effective = model.parameters(cli.merged(over: suite))
            #expect(effective.temperature == 0.2 && effective.maxNewTokens == 3 && effective.topP == 0.5 && effective.topK == 7)
        }
    }

    @Test("unreadable settings, missing tokenizer files and a missing config are errors naming the file")
    func loadErrors() async throws {
        try await withTemporaryFolder { root in
            let broken = root.appendingPathComponent("broken")
            try copyModel(Fixtures.calmFolder, to: broken, skipping: ["generation_config.json"])
            try Data(#"{"temperature": "hot"}"#.utf8).write(to: broken.appendingPathComponent("generation_config.json"))
            do {
                _ = try LoadedModel(folder: broken, preset: Fixtures.preset("open-calm-small"))
                Issue.record("loaded a bad generation_config.json")
            } catch let error as ModelLoadError {
                guard case .generationConfig(let file, _) = error else { Issue.record("\(error)"); return }
                #expect(file.hasSuffix("generation_config.json") && error.description.contains("temperature"))
            }

            let noTokenizer = root.appendingPathComponent("no-tokenizer")
            try copyModel(Fixtures.calmFolder, to: noTokenizer, skipping: ["tokenizer.json"])
            #expect(throws: ModelLoadError.self) { try LoadedModel(folder: noTokenizer, preset: Fixtures.preset("open-calm-small")) }
            do { _ = try LoadedModel(folder: noTokenizer, preset: Fixtures.preset("open-calm-small")) } catch let error as ModelLoadError {
                guard case .tokenizer = error else { Issue.record("\(error)"); return }
            }

            let noConfig = root.appendingPathComponent("no-config")
            try copyModel(Fixtures.calmFolder, to: noConfig, skipping: ["config.json"])
            do { _ = try LoadedModel(folder: noConfig, preset: Fixtures.preset("open-calm-small")) } catch let error as ModelLoadError {
                guard case .model = error else { Issue.record("\(error)"); return }
                #expect(error.description.contains("config.json"))
            }
        }
    }
}
