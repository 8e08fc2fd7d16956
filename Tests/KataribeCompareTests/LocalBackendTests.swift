import Foundation
import KataribeApp
@testable import KataribeCompare
import KataribeGeneration
import KataribeModels
import KataribeTestSupport
import Testing

/// The tiny transformers-made fixture models, one plain (open-calm-like) and one chat (rinna-like).
private func fixtureSuite(samples: Int = 2) -> String {
    let calm = TestPaths.fixture("generation-e2e/calm").path
    let rinna = TestPaths.fixture("generation-e2e/rinna").path
    return """
    name: local
    samples: \(samples)
    seed: 5
    generation: {max_new_tokens: 8}
    models:
      - label: calm
        model: \(calm)
      - label: sft
        model: \(rinna)
        preset: rinna-3.6b-sft-v2
    prompts:
      - id: story
        title: 物語
        completion: 昔々あるところに、
        instruction: 物語を考えてください。
    """
}

@Suite("In-process models")
struct LocalBackendTests {
    @Test("each sample is exactly what `kataribe generate` gives for the same prompt, settings and seed")
    func samplesEqualDirectGeneration() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try ComparePlan(suite: SuiteLoader.parse(yaml: fixtureSuite(), file: "local.yaml"))
        let store = try ResultsStore(directory: dir.url)
        let result = try await CompareRunner(plan: plan, backend: LocalBackend(threads: 1), store: store, kataribeVersion: "t").run()
        #expect(result.finishedNow == 4 && result.failures.isEmpty)

        let samples = store.entries.compactMap { if case .sample(let s) = $0 { s } else { nil } }
        #expect(samples.count == 4)
        for sample in samples {
            let model = try #require(plan.model(sample.modelLabel))
            guard case .local(let folder) = model.source else { Issue.record("not local"); continue }
            let generator = TextGenerator(model: try LoadedModel(folder: URL(fileURLWithPath: folder), preset: model.preset))
            let suitePrompt = try #require(plan.prompt(sample.promptID))
            let userText = model.preset.promptFormat == .plain ? suitePrompt.completion : suitePrompt.instruction
            let direct = try await generator.generate(prompt: try #require(userText),
                                                      parameters: GenerationParameters(maxNewTokens: 8, seed: sample.seed)).collect()
            let expected = try #require(direct.samples.first)
            #expect(sample.output == expected.rawText, "\(sample.modelLabel) #\(sample.sampleIndex)")
            #expect(sample.outputTokens == expected.tokens.count)
            #expect(sample.stopReason == expected.stopReason.rawValue)
            #expect(sample.backend == "local")
            if model.preset.promptFormat == .rinnaChat {
                #expect(sample.display == expected.text)
            } else {
                #expect(sample.display == suitePrompt.completion! + expected.text)
            }
        }
        // Different sample seeds give different samples of a cell (these settings sample).
        let calm = samples.filter { $0.modelLabel == "calm" }.map(\.output)
        #expect(Set(calm).count == 2)
    }

    @Test("a loaded model takes the samples of a cell at once, or `batch` samples when it is set")
    func samplesInFlight() async throws {
        let plan = try ComparePlan(suite: SuiteLoader.parse(yaml: fixtureSuite(samples: 3), file: "local.yaml"))
        let calm = try #require(plan.model("calm"))
        for (batch, expected) in [(nil, 3), (1, 1), (8, 8)] as [(Int?, Int)] {
            let session = try await LocalBackend(threads: 1, batch: batch).load(calm, samplesPerCell: plan.samples)
            #expect(session.maxConcurrentSamples == expected, "batch \(String(describing: batch))")
            await session.close()
        }
    }

    @Test("samples generated at once are the samples generated one by one")
    func concurrentEqualsSequential() async throws {
        let plan = try ComparePlan(suite: SuiteLoader.parse(yaml: fixtureSuite(samples: 3), file: "local.yaml"))
        func outputs(batch: Int) async throws -> [String: String] {
            let dir = try TemporaryDirectory()
            defer { dir.cleanup() }
            let store = try ResultsStore(directory: dir.url)
            let result = try await CompareRunner(plan: plan, backend: LocalBackend(threads: 1, batch: batch), store: store,
                                                 kataribeVersion: "t").run()
            #expect(result.finishedNow == 6 && result.failures.isEmpty)
            var byID: [String: String] = [:]
            for case .sample(let s) in store.entries { byID["\(s.modelLabel) \(s.sampleIndex)"] = s.output }
            return byID
        }
        let oneByOne = try await outputs(batch: 1)
        #expect(oneByOne.count == 6)
        #expect(try await outputs(batch: 3) == oneByOne)
    }

    @Test("a folder that matches no preset gets the settings its tokenizer files imply, as in `kataribe generate`")
    func folderPresetInference() throws {
        let suite = try SuiteLoader.parse(yaml: fixtureSuite(), file: "local.yaml")
        let calm = try #require(suite.models.first { $0.label == "calm" })
        #expect(calm.preset.promptFormat == .plain)
        #expect(calm.preset.tokenizer == .fast)
    }

    @Test("a model that cannot be found fails that model only, with its name in the report")
    func missingModel() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let yaml = fixtureSuite(samples: 1).replacingOccurrences(
            of: "preset: rinna-3.6b-sft-v2", with: "preset: rinna-3.6b-sft-v2\n  - label: gone\n    model: /nonexistent/model\n    preset: open-calm-small")
        let plan = try ComparePlan(suite: SuiteLoader.parse(yaml: yaml, file: "local.yaml"))
        let result = try await CompareRunner(plan: plan, backend: LocalBackend(threads: 1), store: ResultsStore(directory: dir.url),
                                             kataribeVersion: "t").run()
        #expect(result.finishedNow == 2)
        #expect(result.failures.count == 1)
        #expect(result.failures.first?.modelLabel == "gone")
        #expect(result.failures.first?.message.contains("/nonexistent/model") == true)
    }

    @Test("each model is released and unmapped before the next one loads, and the last one once the run ends",
          .enabled(if: FileManager.default.fileExists(atPath: "/proc/self/maps")))
    func releasesEachModel() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        // Private copies: other tests map the shared fixtures at the same time, so only these paths
        // say anything about this run's models.
        let calm = try copyFixtureModel("generation-e2e/calm", to: dir.url.appendingPathComponent("calm"))
        let rinna = try copyFixtureModel("generation-e2e/rinna", to: dir.url.appendingPathComponent("rinna"))
        let checkpoints = [calm.appendingPathComponent("pytorch_model.bin").path, rinna.appendingPathComponent("model.safetensors").path]
        let yaml = fixtureSuite(samples: 1).replacingOccurrences(of: TestPaths.fixture("generation-e2e/calm").path, with: calm.path)
            .replacingOccurrences(of: TestPaths.fixture("generation-e2e/rinna").path, with: rinna.path)
        let plan = try ComparePlan(suite: SuiteLoader.parse(yaml: yaml, file: "local.yaml"))
        let probe = ReleaseProbe(LocalBackend(threads: 1, notices: { _ in }), checkpoints: checkpoints)
        let result = try await CompareRunner(plan: plan, backend: probe, store: ResultsStore(directory: dir.url.appendingPathComponent("out")),
                                             kataribeVersion: "t").run()
        #expect(result.finishedNow == 2 && result.failures.isEmpty)
        // The probe saw both models (so the checks below are about real models), and when the second
        // load began, nothing of the first was left: no model object, no mapping of its checkpoint.
        #expect(probe.modelsSeen == 2)
        #expect(probe.previousAtLoads == [.init(alive: false, mapped: false)])
        #expect(!probe.lastAlive)
        #expect(try mappedPaths(among: checkpoints).isEmpty)
    }

    @Test("a suite's dtype is applied when the model loads: q8 weights are made and saved in the quantized cache")
    func dtypeApplied() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let yaml = fixtureSuite(samples: 1).replacingOccurrences(of: "  - label: sft", with: "    dtype: q8\n  - label: sft")
        let plan = try ComparePlan(suite: SuiteLoader.parse(yaml: yaml, file: "local.yaml"))
        #expect(plan.model("calm")?.weightFormat == .q8 && plan.model("sft")?.weightFormat == nil)
        let cache = QuantizedCache(directory: dir.url.appendingPathComponent("quantized"))
        let result = try await CompareRunner(plan: plan, backend: LocalBackend(threads: 1, quantizedCache: cache),
                                             store: ResultsStore(directory: dir.url.appendingPathComponent("out")), kataribeVersion: "t").run()
        #expect(result.finishedNow == 2 && result.failures.isEmpty)
        let saved = try FileManager.default.contentsOfDirectory(atPath: cache.directory.path)
        #expect(saved.count == 1 && saved.first?.hasSuffix(".q8.safetensors") == true, "\(saved)")
    }

    @Test("a folder that matches no preset is announced once, through the backend's notices, when it loads")
    func inferredPresetNotice() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let notes = Collected<String>()
        let plan = try ComparePlan(suite: SuiteLoader.parse(yaml: fixtureSuite(samples: 1), file: "local.yaml"))
        #expect(plan.model("calm")?.presetOrigin == .inferred && plan.model("sft")?.presetOrigin == .requested)
        let backend = LocalBackend(threads: 1, notices: { notes.append($0) })
        _ = try await CompareRunner(plan: plan, backend: backend, store: ResultsStore(directory: dir.url), kataribeVersion: "t").run()
        #expect(notes.values.count == 1)
        let note = try #require(notes.values.first)
        #expect(note.contains(TestPaths.fixture("generation-e2e/calm").path) && note.contains("open-calm-small"))
        #expect(note.contains("--preset") && note.contains("preset:") && !note.contains("\n"))
    }
}

/// A copy of a fixture model folder (symlinks resolved) at `destination`.
private func copyFixtureModel(_ fixture: String, to destination: URL) throws -> URL {
    let source = TestPaths.fixture(fixture)
    try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
    for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
        try Data(contentsOf: source.appendingPathComponent(name).resolvingSymlinksInPath()).write(to: destination.appendingPathComponent(name))
    }
    return destination
}

/// Which of `paths` this process has mapped now (Linux: /proc/self/maps names the file of every mapping).
private func mappedPaths(among paths: [String]) throws -> [String] {
    let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
    let mapped = Set(maps.split(separator: "\n").compactMap { line in line.firstIndex(of: "/").map { String(line[$0...]) } })
    return paths.filter(mapped.contains)
}

/// Passes loads to the local backend and, as each load begins, notes whether the model loaded
/// before it is still alive (a weak reference to it) and whether its checkpoint is still mapped.
private final class ReleaseProbe: CompareBackend, @unchecked Sendable {  // state guarded by `lock`
    struct Previous: Equatable {
        var alive: Bool
        var mapped: Bool
    }

    private let inner: LocalBackend
    private let checkpoints: [String]
    private let lock = NSLock()
    private weak var last: LoadedModel?
    private weak var lastWeights: (any CausalLanguageModel)?
    private var seen: [Previous] = []
    private var count = 0

    init(_ inner: LocalBackend, checkpoints: [String]) {
        self.inner = inner
        self.checkpoints = checkpoints
    }

    var previousAtLoads: [Previous] { lock.withLock { seen } }
    var modelsSeen: Int { lock.withLock { count } }
    var lastAlive: Bool { lock.withLock { last != nil || lastWeights != nil } }

    func load(_ model: PlannedModel, samplesPerCell: Int) async throws -> any CompareModelSession {
        let mapped = try mappedPaths(among: checkpoints)
        lock.withLock {
            if count > 0 {
                seen.append(Previous(alive: last != nil || lastWeights != nil, mapped: mapped.contains(checkpoints[count - 1])))
            }
        }
        let session = try await inner.load(model, samplesPerCell: samplesPerCell)
        let loaded = try #require(session as? LocalBackend.Session).generator.model
        lock.withLock {
            last = loaded
            lastWeights = loaded.model
            count += 1
        }
        return session
    }
}
