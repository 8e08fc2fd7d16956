import Foundation
import KataribeApp
import KataribeCompare
import KataribeGeneration
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
}
