import Foundation
import KataribeApp
@testable import KataribeCompare
import KataribeGeneration
import KataribeTestSupport
import Testing

/// Suites with models whose prompt format is their own chat template (`template`).
@Suite("Chat-template models in suites")
struct ChatTemplateSuiteTests {
    static let chatML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
        + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

    func suite(_ model: String) -> String {
        """
        name: templates
        samples: 1
        seed: 5
        generation: {max_new_tokens: 6}
        models:
          - label: chat
            \(model)
        prompts:
          - id: q
            completion: 昔々
            instruction: 日本の首都は？
        """
    }

    @Test("a folder with a template plans the instruction as typed; the sample is `generate`'s for it, rendered by the template")
    func localTemplate() async throws {
        let folder = try ChatTemplateFolder.make(chatTemplate: Self.chatML)
        defer { ChatTemplateFolder.remove(folder) }
        let plan = try ComparePlan(suite: SuiteLoader.parse(yaml: suite("model: \(folder.path)"), file: "t.yaml"))
        #expect(plan.models[0].preset.promptFormat == .modelTemplate)
        #expect(plan.cells[0].prompt == "日本の首都は？")

        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try ResultsStore(directory: dir.url)
        let result = try await CompareRunner(plan: plan, backend: LocalBackend(threads: 1, notices: { _ in }), store: store,
                                             kataribeVersion: "t").run()
        #expect(result.finishedNow == 1 && result.failures.isEmpty)
        let sample = try #require(store.entries.compactMap { if case .sample(let s) = $0 { s } else { nil } }.first)

        let model = try LoadedModel(folder: folder, preset: plan.models[0].preset, options: ModelLoadOptions(notices: { _ in }))
        let direct = try await TextGenerator(model: model).generate(
            prompt: "日本の首都は？", parameters: GenerationParameters(maxNewTokens: 6, seed: sample.seed)).collect()
        let expected = try #require(direct.samples.first)
        #expect(sample.output == expected.rawText)
        let rendered = "<|im_start|>user\n日本の首都は？<|im_end|>\n<|im_start|>assistant\n"
        #expect(sample.promptTokens == model.tokenizer.encode(rendered, addSpecialTokens: false).count)
    }

    @Test("prompt_format: template names the model's template; an endpoint cannot use it")
    func promptFormatTemplate() throws {
        let local = try SuiteLoader.parse(yaml: suite("model: demo-rinna-sft\n    prompt_format: template"))
        #expect(local.models[0].preset.promptFormat == .modelTemplate)
        do {
            _ = try SuiteLoader.parse(yaml: suite("endpoint: {base_url: \"http://127.0.0.1:9/v1\", model: x}\n    prompt_format: template"))
            Issue.record("an endpoint accepted the model's template")
        } catch {
            #expect("\(error)".contains("only known to in-process models"))
        }
    }
}
