import Foundation
import KataribeApp
import KataribeGeneration
import KataribeTestSupport
import Testing

/// The chat-model presets carry exactly what their model cards' examples pass (pinned here, one card
/// per row, with the card's URL), and folders of these architectures get sensible settings.
@Suite("Chat-model presets carry the model cards' settings", .timeLimit(.minutes(1)))
struct ChatModelPresetTests {
    /// id, hub repository, family, the card's generation arguments.
    static let cards: [(id: String, repo: String, family: ModelFamily, generation: GenerationParameters)] = [
        // generate(max_new_tokens=100, do_sample=True, top_p=0.95, temperature=0.7, repetition_penalty=1.05)
        ("llm-jp-3-1.8b-instruct", "llm-jp/llm-jp-3-1.8b-instruct", .llama,
         GenerationParameters(doSample: true, temperature: 0.7, topP: 0.95, repetitionPenalty: 1.05, maxNewTokens: 100)),
        ("llm-jp-3-3.7b-instruct", "llm-jp/llm-jp-3-3.7b-instruct", .llama,
         GenerationParameters(doSample: true, temperature: 0.7, topP: 0.95, repetitionPenalty: 1.05, maxNewTokens: 100)),
        ("llm-jp-3-13b-instruct", "llm-jp/llm-jp-3-13b-instruct", .llama,
         GenerationParameters(doSample: true, temperature: 0.7, topP: 0.95, repetitionPenalty: 1.05, maxNewTokens: 100)),
        // vLLM SamplingParams(temperature=0.6, top_p=0.9, max_tokens=512, stop="<|eot_id|>"): no top-k
        ("llama-3.1-swallow-8b-instruct-v0.3", "tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-v0.3", .llama,
         GenerationParameters(doSample: true, temperature: 0.6, topK: 0, topP: 0.9, maxNewTokens: 512)),
        ("llama-3.1-swallow-8b-instruct-v0.5", "tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-v0.5", .llama,
         GenerationParameters(doSample: true, temperature: 0.6, topK: 0, topP: 0.9, maxNewTokens: 512)),
        // generate(max_new_tokens=1200, do_sample=True, temperature=0.6, top_p=0.9)
        ("llama-3-elyza-jp-8b", "elyza/Llama-3-ELYZA-JP-8B", .llama,
         GenerationParameters(doSample: true, temperature: 0.6, topP: 0.9, maxNewTokens: 1200)),
        // generate(input_ids, max_new_tokens=1024, temperature=0.5): do_sample is the model config's
        ("calm3-22b-chat", "cyberagent/calm3-22b-chat", .llama, GenerationParameters(temperature: 0.5, maxNewTokens: 1024)),
        // pipeline(...)(user_input, max_length=50, do_sample=True, num_return_sequences=3)
        ("sarashina2.2-3b-instruct", "sbintuitions/sarashina2.2-3b-instruct-v0.1", .llama,
         GenerationParameters(doSample: true, maxLength: 50)),
        // generate(input_ids, max_new_tokens=1024)
        ("tinyswallow-1.5b-instruct", "SakanaAI/TinySwallow-1.5B-Instruct", .qwen2, GenerationParameters(maxNewTokens: 1024)),
        // generate(**model_inputs, max_new_tokens=512)
        ("qwen2.5-0.5b-instruct", "Qwen/Qwen2.5-0.5B-Instruct", .qwen2, GenerationParameters(maxNewTokens: 512)),
        ("qwen2.5-1.5b-instruct", "Qwen/Qwen2.5-1.5B-Instruct", .qwen2, GenerationParameters(maxNewTokens: 512)),
        ("qwen2.5-3b-instruct", "Qwen/Qwen2.5-3B-Instruct", .qwen2, GenerationParameters(maxNewTokens: 512)),
        ("qwen2.5-7b-instruct", "Qwen/Qwen2.5-7B-Instruct", .qwen2, GenerationParameters(maxNewTokens: 512)),
        // pipe(messages, max_new_tokens=256) / pipe(messages, max_new_tokens=50)
        ("gemma-2-2b-it", "google/gemma-2-2b-it", .gemma2, GenerationParameters(maxNewTokens: 256)),
        ("gemma-2-2b-jpn-it", "google/gemma-2-2b-jpn-it", .gemma2, GenerationParameters(maxNewTokens: 256)),
        ("gemma-3-1b-it", "google/gemma-3-1b-it", .gemma3, GenerationParameters(maxNewTokens: 50)),
    ]

    @Test("each preset: hub id, family, bfloat16, fast tokenizer, the card's generate() arguments and its URL", arguments: cards)
    func card(_ card: (id: String, repo: String, family: ModelFamily, generation: GenerationParameters)) throws {
        let preset = try ModelPresetCatalog.preset(named: card.id)
        #expect(try ModelPresetCatalog.preset(named: card.repo) == preset)
        #expect(preset.hubRepoID == card.repo && preset.localPath == nil)
        #expect(preset.family == card.family && preset.dtype == .bfloat16 && preset.tokenizer == .fast)
        #expect(preset.generation == card.generation)
        #expect(preset.source == "https://huggingface.co/\(card.repo)")
        // The chat template writes the special tokens; encoding must not add a second <bos>.
        #expect(!preset.addSpecialTokens && !preset.decodeIncludesPrompt)
        // Only llm-jp's card decodes with the special tokens left in.
        #expect(preset.skipSpecialTokens == !card.id.hasPrefix("llm-jp-3"))
    }

    @Test("the catalog lists every card above once, after the GPT-NeoX and demo presets")
    func catalog() {
        let ids = ModelPresetCatalog.all.map(\.id)
        #expect(Array(ids.suffix(Self.cards.count)) == Self.cards.map(\.id))
        #expect(Set(ids).count == ids.count)
        #expect(ModelPresetCatalog.all.allSatisfy { $0.localPath != nil || $0.source != nil })
    }

    @Test("what the card leaves unset stays unset, so the model's generation_config.json supplies it")
    func unsetFieldsFallThrough() throws {
        let qwen = try ModelPresetCatalog.preset(named: "qwen2.5-7b-instruct")
        // Qwen2.5's generation_config.json as published.
        let modelConfig = GenerationParameters(doSample: true, temperature: 0.7, topK: 20, topP: 0.8, repetitionPenalty: 1.05,
                                               eosTokenIds: [151645, 151643])
        #expect(qwen.generation.merged(over: modelConfig) == GenerationParameters(
            doSample: true, temperature: 0.7, topK: 20, topP: 0.8, repetitionPenalty: 1.05, maxNewTokens: 512,
            eosTokenIds: [151645, 151643]))
        // calm3's temperature applies only if its generation_config samples; otherwise greedy, as in transformers.
        let calm3 = try ModelPresetCatalog.preset(named: "calm3-22b-chat")
        #expect(try calm3.generation.merged(over: GenerationParameters()).resolved().doSample == false)
    }

    @Test("kataribe models shows families, 'model defaults' for settings left to the model, and each card's URL")
    func listing() throws {
        let table = ModelPresetListing.table()
        let lines = table.split(separator: "\n")
        #expect(lines[0].hasPrefix("ID") && lines[0].contains("FAMILY"))
        let qwen = try #require(lines.first { $0.hasPrefix("qwen2.5-7b-instruct ") })
        #expect(qwen.contains("Qwen/Qwen2.5-7B-Instruct") && qwen.contains("qwen2") && qwen.contains("bfloat16")
                && qwen.hasSuffix("model defaults + max_new=512"))
        let swallow = try #require(lines.first { $0.hasPrefix("llama-3.1-swallow-8b-instruct-v0.5 ") })
        #expect(swallow.hasSuffix("sample t=0.6 top_k=0 top_p=0.9 max_new=512"))
        #expect(table.contains("sample max_length=50"))
        let sources = ModelPresetListing.sources()
        #expect(sources.contains("gemma-3-1b-it") && sources.contains("https://huggingface.co/google/gemma-3-1b-it"))
        #expect(sources.split(separator: "\n").count == ModelPresetCatalog.all.filter { $0.source != nil }.count + 1)
        #expect(ModelPresetListing.defaultsSummary(GenerationParameters()) == "model defaults")
    }

    @Test("family from config.json model_type")
    func families() {
        #expect(ModelFamily(modelType: "qwen2") == .qwen2 && ModelFamily(modelType: "gemma3_text") == .gemma3)
        #expect(ModelFamily(modelType: "llama") == .llama && ModelFamily(modelType: "mistral") == .mistral)
        #expect(ModelFamily(modelType: "gpt_neox") == nil && ModelFamily(modelType: "open-calm") == nil)
    }

    @Test("a folder named like a repository gets its preset; a qwen2 folder its own settings; _name_or_path a catalog model's")
    func folders() async throws {
        try await withTemporaryFolder { root in
            let resolver = ModelResolver(hub: offlineHub(cache: root), demos: DemoModelSource(searchDirectories: [root]))
            func folder(_ name: String, config: [String: Any], chatTemplate: Bool = true) throws -> URL {
                let url = root.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
                try JSONSerialization.data(withJSONObject: config).write(to: url.appendingPathComponent("config.json"))
                let tokenizerConfig: [String: Any] = chatTemplate ? ["chat_template": "{{ messages }}"] : [:]
                try JSONSerialization.data(withJSONObject: tokenizerConfig).write(to: url.appendingPathComponent("tokenizer_config.json"))
                try Data("{}".utf8).write(to: url.appendingPathComponent("tokenizer.json"))
                return url
            }

            let named = try folder("Qwen2.5-7B-Instruct", config: ["model_type": "qwen2"])
            let matched = try #require(try resolver.plannedPreset(for: named.path))
            #expect(matched.origin == .matched && matched.preset.id == "qwen2.5-7b-instruct")

            let own = try folder("my-finetune", config: ["model_type": "qwen2", "torch_dtype": "float16"])
            let inferred = try #require(try resolver.plannedPreset(for: own.path))
            #expect(inferred.origin == .inferred && inferred.preset.family == .qwen2 && inferred.preset.dtype == .float16)
            #expect(inferred.preset.generation == GenerationParameters() && inferred.preset.tokenizer == .fast)
            #expect(!inferred.preset.addSpecialTokens && inferred.preset.id == "my-finetune")
            let notice = PresetInference.notice(folder: own, preset: inferred.preset)
            #expect(notice.contains("qwen2 model's own settings") && notice.contains("--preset"))

            let plain = try folder("gemma-base", config: ["architectures": ["Gemma2ForCausalLM"]], chatTemplate: false)
            let base = PresetInference.preset(forFolder: plain)
            #expect(base.family == .gemma2 && base.dtype == .bfloat16 && base.addSpecialTokens && base.promptFormat == .plain)

            let fineTune = try folder("elyza-lora-merged", config: ["model_type": "llama", "_name_or_path": "elyza/Llama-3-ELYZA-JP-8B"])
            let fromName = try #require(try resolver.plannedPreset(for: fineTune.path))
            #expect(fromName.origin == .inferred && fromName.preset.generation == ModelPresetCatalog.elyzaGeneration)
            #expect(fromName.preset.id == "elyza-lora-merged" && fromName.preset.hubRepoID == nil)
            #expect(PresetInference.notice(folder: fineTune, preset: fromName.preset)
                .contains("llama-3-elyza-jp-8b's settings (config.json names elyza/Llama-3-ELYZA-JP-8B)"))
            // A local path keeps the repository's folder name.
            let localCopy = try folder("copy", config: ["model_type": "qwen2", "_name_or_path": "/models/Qwen2.5-3B-Instruct"])
            #expect(PresetInference.baseID(forFolder: localCopy) == "qwen2.5-3b-instruct")
        }
    }
}
