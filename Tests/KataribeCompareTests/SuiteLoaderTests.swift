import Foundation
import KataribeApp
import KataribeCompare
import KataribeGeneration
import KataribeTestSupport
import Testing

@Suite("Suite files")
struct SuiteLoaderTests {
    @Test("the shipped seed-article suite has the article's six models and three tasks with their presets")
    func seedArticle() throws {
        let suite = try SuiteLoader.load(file: TestPaths.packageRoot.appendingPathComponent("Examples/seed-article.yaml").path)
        #expect(suite.name == "seed-article")
        #expect(suite.samples == 3)
        #expect(suite.models.map(\.label) == ["open-calm-1b", "open-calm-3b", "open-calm-7b", "rinna-3.6b", "rinna-3.6b-sft-v2", "rinna-3.6b-ppo"])
        #expect(suite.models.map(\.source) == [
            .local("cyberagent/open-calm-1b"), .local("cyberagent/open-calm-3b"), .local("cyberagent/open-calm-7b"),
            .local("rinna/japanese-gpt-neox-3.6b"), .local("rinna/japanese-gpt-neox-3.6b-instruction-sft-v2"),
            .local("rinna/japanese-gpt-neox-3.6b-instruction-ppo"),
        ])
        #expect(suite.models.map(\.preset.id) == ["open-calm-1b", "open-calm-3b", "open-calm-7b", "rinna-3.6b", "rinna-3.6b-sft-v2", "rinna-3.6b-ppo"])
        #expect(suite.models[2].preset.generation == ModelPresetCatalog.openCalmGeneration)
        #expect(suite.models[3].preset.generation == ModelPresetCatalog.rinnaBaseGeneration)
        #expect(suite.models[5].preset.generation == ModelPresetCatalog.rinnaInstructionGeneration)
        #expect(suite.prompts.map(\.id) == ["story", "recipe", "reply"])
        #expect(suite.prompts[0].completion == "昔々あるところに、")
        #expect(suite.prompts[0].instruction == "「昔々あるところに」から始まる物語を考えてください。")

        let plan = try ComparePlan(suite: suite)
        #expect(plan.cells.count == 18)
        #expect(plan.cell(model: "rinna-3.6b", prompt: "story")?.prompt == "昔々あるところに、")
        #expect(plan.cell(model: "rinna-3.6b-ppo", prompt: "story")?.prompt
            == "ユーザー: 「昔々あるところに」から始まる物語を考えてください。<NL>システム: ")
    }

    @Test("the shipped demo suite runs the same three tasks on the two demo models")
    func demo() throws {
        let suite = try SuiteLoader.load(file: TestPaths.packageRoot.appendingPathComponent("Examples/demo.yaml").path)
        let article = try SuiteLoader.load(file: TestPaths.packageRoot.appendingPathComponent("Examples/seed-article.yaml").path)
        #expect(suite.models.map(\.label) == ["demo-calm", "demo-rinna-sft"])
        #expect(suite.models.map(\.preset.promptFormat) == [.plain, .rinnaChat])
        #expect(suite.prompts == article.prompts)
    }

    @Test("the shipped japanese-instruct suite runs the article's tasks on five chat models with their cards' presets")
    func japaneseInstruct() throws {
        let suite = try SuiteLoader.load(file: TestPaths.packageRoot.appendingPathComponent("Examples/japanese-instruct.yaml").path)
        let article = try SuiteLoader.load(file: TestPaths.packageRoot.appendingPathComponent("Examples/seed-article.yaml").path)
        #expect(suite.name == "japanese-instruct" && suite.samples == 3)
        #expect(suite.models.map(\.preset.id) == ["tinyswallow-1.5b-instruct", "llm-jp-3-1.8b-instruct", "qwen2.5-1.5b-instruct",
                                                  "qwen2.5-3b-instruct", "gemma-2-2b-it"])
        #expect(suite.models.allSatisfy { $0.presetOrigin == .matched })
        #expect(suite.prompts == article.prompts)
        // The suite's cap over each card's settings: llm-jp keeps its card's sampling.
        let llmJP = suite.models[1].preset.generation
        #expect(llmJP.maxNewTokens == 256 && llmJP.temperature == 0.7 && llmJP.topP == 0.95 && llmJP.repetitionPenalty == 1.05)
        #expect(suite.models[2].preset.generation == GenerationParameters(maxNewTokens: 256))
        #expect(try ComparePlan(suite: suite).cells.count == 15)
    }

    @Test("generation settings layer preset, then suite, then model entry, then the command line")
    func precedence() throws {
        let suite = try SuiteLoader.parse(yaml: """
        generation: {temperature: 0.5, max_new_tokens: 20, top_k: 10}
        models:
          - model: open-calm-small
            generation: {temperature: 0.9}
          - model: open-calm-medium
        prompts:
          - {id: p, completion: x}
        """)
        #expect(suite.models[0].preset.generation.temperature == 0.9)
        #expect(suite.models[0].preset.generation.maxNewTokens == 20)
        #expect(suite.models[0].preset.generation.topP == 0.9)  // from the open-calm preset
        #expect(suite.models[1].preset.generation.temperature == 0.5)
        var cli = GenerationParameters()
        cli.maxNewTokens = 5
        let plan = try ComparePlan(suite: suite, overrides: CompareOverrides(samples: 1, seed: 99, generation: cli))
        #expect(plan.models.map(\.preset.generation.maxNewTokens) == [5, 5])
        #expect(plan.models[0].preset.generation.temperature == 0.9)
        #expect(plan.cells.allSatisfy { $0.parameters.topK == 10 })
        #expect(plan.samples == 1 && plan.seed == 99)
    }

    @Test("defaults: 3 samples, seed 0, name from the file, label from the preset or folder")
    func defaults() throws {
        let suite = try SuiteLoader.parse(yaml: """
        models:
          - model: cyberagent/open-calm-7b
          - model: /data/models/japanese-gpt-neox-3.6b-instruction-ppo
            dtype: bfloat16
        prompts:
          - {id: p, completion: x, instruction: y}
        """, file: "dir/my-suite.yaml", defaultName: "my-suite")
        #expect(suite.name == "my-suite" && suite.title == "my-suite")
        #expect(suite.samples == 3 && suite.seed == 0)
        #expect(suite.models.map(\.label) == ["open-calm-7b", "japanese-gpt-neox-3.6b-instruction-ppo"])
        #expect(suite.models[1].preset.id == "rinna-3.6b-ppo")
        #expect(suite.models[1].weightFormat == .bfloat16)  // applied at load now, no longer a preset field
        #expect(suite.models[1].source == .local("/data/models/japanese-gpt-neox-3.6b-instruction-ppo"))
    }

    @Test("dtype takes --dtype's values and the long float names, and is kept for loading rather than in the preset")
    func dtypes() throws {
        func format(_ value: String) throws -> String? {
            try SuiteLoader.parse(yaml: "models:\n  - {model: demo-calm, dtype: \(value)}\n" + prompts).models[0].weightFormat?.rawValue
        }
        for (value, expected) in [("f32", "f32"), ("float32", "f32"), ("f16", "f16"), ("float16", "f16"), ("bf16", "bf16"),
                                  ("bfloat16", "bf16"), ("q8", "q8"), ("q4", "q4")] {
            #expect(try format(value) == expected, "\(value)")
        }
        let plain = try SuiteLoader.parse(yaml: models + prompts).models[0]
        #expect(plain.weightFormat == nil && plain.preset.dtype == .float16)

        let bad = try #require(error("models:\n  - model: demo-calm\n    dtype: q5\n" + prompts))
        #expect(bad.line == 3 && bad.keyPath == "models[0].dtype")
        #expect(bad.description.hasPrefix("suite.yaml:3:") && bad.description.contains("\"q5\"")
                && bad.description.contains("f32, f16, bf16, q8, q4"), "\(bad)")
        let endpoint = try #require(error("models:\n  - endpoint: {base_url: \"http://h:1\", model: x/y}\n    dtype: q8\n"
                                          + "    generation: {max_new_tokens: 4}\n" + prompts))
        #expect(endpoint.keyPath == "models[0].dtype" && endpoint.description.contains("server"))
    }

    @Test("suite entries are matched to presets by the resolver every command uses (here: a hub cache snapshot folder)")
    func sharedMatching() throws {
        let suite = try SuiteLoader.parse(yaml: """
        models:
          - model: /cache/models--rinna--japanese-gpt-neox-3.6b-instruction-sft-v2/snapshots/0123abcd
          - model: \(TestPaths.fixture("generation-e2e/calm").path)
        prompts:
          - {id: p, completion: x, instruction: y}
        """)
        #expect(suite.models[0].preset.id == "rinna-3.6b-sft-v2" && suite.models[0].presetOrigin == .matched)
        #expect(suite.models[1].presetOrigin == .inferred && suite.models[1].preset.tokenizer == .fast)
    }

    @Test("an endpoint model takes its preset from the served model name or `preset`")
    func endpoint() throws {
        let suite = try SuiteLoader.parse(yaml: """
        models:
          - label: remote
            endpoint: {base_url: "http://127.0.0.1:8000", model: cyberagent/open-calm-7b, api_key_env: MY_KEY}
          - endpoint: {base_url: "https://example.invalid/v1", model: custom}
            preset: rinna-3.6b-sft-v2
          - endpoint: {base_url: "http://h:1", model: org/unknown}
            generation: {max_new_tokens: 16}
        prompts:
          - {id: p, completion: x, instruction: y}
        """)
        #expect(suite.models[0].source == .endpoint(EndpointConfig(baseURL: "http://127.0.0.1:8000", model: "cyberagent/open-calm-7b", apiKeyEnv: "MY_KEY")))
        #expect(suite.models[0].preset.id == "open-calm-7b")
        #expect(suite.models[1].preset.promptFormat == .rinnaChat)
        #expect(suite.models[1].label == "custom")
        #expect(suite.models[2].preset.promptFormat == .plain)
        #expect(try ComparePlan(suite: suite).cells.count == 3)
    }

    // MARK: Errors, one per kind

    private func error(_ yaml: String) -> CompareInputError? {
        do {
            let suite = try SuiteLoader.parse(yaml: yaml, file: "suite.yaml")
            _ = try ComparePlan(suite: suite)
            return nil
        } catch {
            return error
        }
    }

    private let prompts = "prompts:\n  - {id: p, completion: x, instruction: y}\n"
    private let models = "models:\n  - model: demo-calm\n"

    @Test("a missing file is unreadable, naming the file")
    func unreadable() {
        #expect(throws: CompareInputError.self) { try SuiteLoader.load(file: "/nonexistent/suite.yaml") }
        do { _ = try SuiteLoader.load(file: "/nonexistent/suite.yaml") } catch {
            #expect(error.description.hasPrefix("/nonexistent/suite.yaml: cannot read the file"))
        }
    }

    @Test("YAML syntax errors name the line")
    func syntax() throws {
        let e = try #require(error("models: [demo-calm\nprompts: x\n"))
        guard case .syntax = e.kind else { Issue.record("\(e)"); return }
        #expect(e.file == "suite.yaml" && e.line != nil)
    }

    @Test("a key given twice is an error")
    func duplicateKey() throws {
        let e = try #require(error("samples: 1\nsamples: 2\n" + models + prompts))
        #expect(e.kind == .duplicateKey(key: "samples"))
        #expect(e.line == 1)
    }

    @Test("unknown keys are errors with a did-you-mean, at every level")
    func unknownKeys() throws {
        let top = try #require(error("sample: 3\n" + models + prompts))
        #expect(top.kind == .unknownKey(key: "sample", suggestion: "samples"))
        #expect(top.description == "suite.yaml:1:1: sample: unknown key \"sample\" (did you mean \"samples\"?)")

        let model = try #require(error("models:\n  - model: demo-calm\n    lable: x\n" + prompts))
        #expect(model.kind == .unknownKey(key: "lable", suggestion: "label"))
        #expect(model.line == 3)
        #expect(model.keyPath == "models[0].lable")

        let generation = try #require(error("models:\n  - model: demo-calm\n    generation: {temprature: 1}\n" + prompts))
        #expect(generation.kind == .unknownKey(key: "temprature", suggestion: "temperature"))
        #expect(generation.keyPath == "models[0].generation.temprature")

        let far = try #require(error("zzz: 1\n" + models + prompts))
        #expect(far.kind == .unknownKey(key: "zzz", suggestion: nil))
    }

    @Test("generation keys that the suite sets another way are refused with the reason")
    func rejectedGenerationKeys() throws {
        let e = try #require(error("generation: {num_return_sequences: 3}\n" + models + prompts))
        guard case .invalidValue(_, let reason) = e.kind else { Issue.record("\(e)"); return }
        #expect(reason.contains("samples"))
    }

    @Test("required keys: prompts, models, a prompt id, a model or endpoint")
    func missingKeys() throws {
        #expect(error(models)?.kind == .missingKey(key: "prompts"))
        #expect(error(prompts)?.kind == .missingKey(key: "models"))
        #expect(error(models + "prompts:\n  - {completion: x}\n")?.kind == .missingKey(key: "id"))
        #expect(error("models:\n  - label: x\n" + prompts)?.kind == .missingKey(key: "model"))
        #expect(error(models + "prompts:\n  - {id: p, title: t}\n")?.kind == .missingKey(key: "completion"))
    }

    @Test("wrong types are named")
    func wrongTypes() throws {
        #expect(error("samples: three\n" + models + prompts)?.kind == .wrongType(expected: "an integer"))
        #expect(error("models: demo-calm\n" + prompts)?.kind == .wrongType(expected: "a list"))
        #expect(error("generation: {temperature: hot}\n" + models + prompts)?.kind == .wrongType(expected: "a number"))
        #expect(error("generation: {do_sample: maybe}\n" + models + prompts)?.kind == .wrongType(expected: "true or false"))
        #expect(error("- 1\n- 2\n")?.kind == .wrongType(expected: "a mapping of keys to values"))
    }

    @Test("bad numbers and values say what is allowed")
    func invalidValues() throws {
        func reason(_ yaml: String) -> String? {
            guard case .invalidValue(_, let reason)? = error(yaml)?.kind else { return nil }
            return reason
        }
        #expect(reason("samples: 0\n" + models + prompts) == "must be between 1 and 1000")
        #expect(reason("seed: -1\n" + models + prompts) == "must be a non-negative integer")
        #expect(reason("generation: {top_p: 1.5}\n" + models + prompts) == "must be between 0 and 1")
        #expect(reason("generation: {temperature: -1}\n" + models + prompts) == "must be at least 0 (0 picks the most likely token)")
        #expect(reason("generation: {typical_p: 0}\n" + models + prompts) == "must be greater than 0 and at most 1")
        #expect(reason("generation: {temperature: .nan}\n" + models + prompts) == "must be a finite number")
        #expect(reason("generation: {max_new_tokens: 0}\n" + models + prompts) == "must be between 1 and 1000000")
        #expect(reason("models:\n  - {model: demo-calm, prompt_format: rinna_chat}\n" + prompts)?
            .contains("did you mean \"rinna-chat\"") == true)
        #expect(reason("name: a/b\n" + models + prompts)?.contains("cannot contain \"/\"") == true)
        #expect(reason("models:\n  - endpoint: {base_url: ftp://x, model: m}\n" + prompts)?.contains("http") == true)
        #expect(reason("models:\n  - endpoint: {base_url: \"http://x\", model: m, api_key_env: 1X}\n" + prompts)?
            .contains("environment variable") == true)
        #expect(reason("models:\n  - {model: demo-calm, endpoint: {base_url: \"http://x\", model: m}}\n" + prompts)?
            .contains("either") == true)
        #expect(reason("models:\n  - {model: demo-calm, label: \"a,b\"}\n" + prompts)?.contains("commas") == true)
        #expect(reason(models + "prompts:\n  - {id: \"my prompt\", completion: x}\n")?.contains("spaces") == true)
    }

    @Test("duplicate prompt ids and model labels name the first use")
    func duplicateIDs() throws {
        let prompt = try #require(error(models + "prompts:\n  - {id: p, completion: x}\n  - {id: p, completion: y}\n"))
        #expect(prompt.kind == .duplicateID(kind: "prompt id", id: "p", firstLine: 4))
        #expect(prompt.line == 5)
        let model = try #require(error("models:\n  - model: demo-calm\n  - {model: open-calm-small, label: demo-calm}\n" + prompts))
        #expect(model.kind == .duplicateID(kind: "model label", id: "demo-calm", firstLine: 2))
    }

    @Test("empty prompt texts are refused")
    func emptyPrompts() throws {
        #expect(error(models + "prompts:\n  - {id: p, completion: \"\"}\n")?.kind == .emptyPrompt(promptID: "p", field: "completion"))
        #expect(error(models + "prompts:\n  - {id: p, completion: x, instruction: \"  \"}\n")?.kind
            == .emptyPrompt(promptID: "p", field: "instruction"))
    }

    @Test("a chat model needs every prompt's instruction, a plain model its completion")
    func missingPromptText() throws {
        let e = try #require(error("models:\n  - model: demo-rinna-sft\nprompts:\n  - {id: p, completion: x}\n"))
        #expect(e.kind == .missingPromptText(promptID: "p", field: "instruction", modelLabel: "demo-rinna-sft"))
        #expect(e.line == 4)
        let plain = try #require(error(models + "prompts:\n  - {id: p, instruction: x}\n"))
        #expect(plain.kind == .missingPromptText(promptID: "p", field: "completion", modelLabel: "demo-calm"))
    }

    @Test("unknown models suggest the closest preset")
    func unknownModel() throws {
        let e = try #require(error("models:\n  - model: open-calm-7\n" + prompts))
        #expect(e.kind == .unknownModel(name: "open-calm-7", suggestion: "open-calm-7b"))
        #expect(e.line == 2)
        let preset = try #require(error("models:\n  - {model: ./m, preset: rinna-3.6b-sft}\n" + prompts))
        #expect(preset.kind == .unknownModel(name: "rinna-3.6b-sft", suggestion: "rinna-3.6b-sft-v2"))
    }

    @Test("models and prompts must not be empty")
    func emptyLists() throws {
        #expect(error("models: []\n" + prompts)?.kind == .emptyList(key: "models"))
        #expect(error(models + "prompts: []\n")?.kind == .emptyList(key: "prompts"))
    }

    @Test("generation settings that cannot run are reported with the model and its line")
    func invalidGeneration() throws {
        let endpoint = try #require(error("models:\n  - endpoint: {base_url: \"http://h:1\", model: x/y}\n" + prompts))
        guard case .invalidGeneration(let label, let why) = endpoint.kind else { Issue.record("\(endpoint)"); return }
        #expect(label == "y" && why.contains("max_new_tokens"), "\(endpoint)")
        #expect(endpoint.line == 2)
    }

    @Test("temperature 0 on a sampling preset picks the most likely token instead of being refused")
    func temperatureZero() throws {
        #expect(error("models:\n  - model: demo-calm\n    generation: {temperature: 0}\n" + prompts) == nil)
    }

    @Test("--models and --prompts names are checked with a suggestion")
    func unknownSelection() throws {
        let plan = try smallPlan()
        #expect(throws: CompareInputError(.unknownName(kind: "model label", name: "clam", suggestion: "calm"), keyPath: "--models")) {
            try plan.validate(selection: CompareSelection(models: ["clam"]))
        }
        #expect(throws: CompareInputError(.unknownName(kind: "prompt id", name: "stroy", suggestion: "story"), keyPath: "--prompts")) {
            try plan.validate(selection: CompareSelection(prompts: ["stroy"]))
        }
        try plan.validate(selection: CompareSelection(models: ["sft"], prompts: ["recipe"]))
    }
}
