import KataribeGeneration
import KataribeTokenizers

/// The Japanese chat models of issue #16, each with the settings its model card's example passes to
/// `generate(...)` (or to `pipeline(...)` / vLLM's `SamplingParams`), pinned field by field and tested
/// in `ChatModelPresetTests`.
///
/// What a card does not pass is left unset on purpose: it then comes from the model's own
/// `generation_config.json` and transformers' defaults at load time (`LoadedModel.generationDefaults`),
/// exactly as `generate(...)` fills it. Qwen2.5's card, for one, passes only `max_new_tokens=512`; its
/// sampling settings (do_sample, t=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05) live in the
/// repository's generation_config.json and arrive from there.
///
/// All of them are instruction models whose prompt is their own chat template. The template renders
/// the special tokens (`<|begin_of_text|>`, `<bos>`, `<s>`), so the rendered prompt is encoded without
/// adding them again, as `apply_chat_template(..., tokenize=True)` does.
extension ModelPresetCatalog {
    /// The model's own chat template (`template`): the loader reads it from the model's
    /// tokenizer_config.json (or chat_template.jinja) and renders prompts with it (`ChatTemplateFormat`).
    static let chatTemplate: PromptFormat = .modelTemplate

    static let chat: [ModelPreset] = llmJP3 + swallow + [elyza, calm3, sarashina, tinySwallow] + qwen25 + gemma

    /// llm-jp-3 instruct cards: `generate(tokenized_input, max_new_tokens=100, do_sample=True,
    /// top_p=0.95, temperature=0.7, repetition_penalty=1.05)`, `torch_dtype=torch.bfloat16`, output
    /// `decode(output)` (prompt and special tokens included). The example's system message is
    /// 「以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。」.
    public static let llmJP3Generation = GenerationParameters(
        doSample: true, temperature: 0.7, topP: 0.95, repetitionPenalty: 1.05, maxNewTokens: 100)

    static let llmJP3: [ModelPreset] = ["1.8b", "3.7b", "13b"].map { size in
        chatPreset(id: "llm-jp-3-\(size)-instruct", repo: "llm-jp/llm-jp-3-\(size)-instruct", family: .llama,
                   skipSpecialTokens: false, generation: llmJP3Generation,
                   summary: "LLM-jp-3 \(size) instruct (Llama, Unigram tokenizer)")
    }

    /// Llama-3.1-Swallow instruct cards run vLLM: `SamplingParams(temperature=0.6, top_p=0.9,
    /// max_tokens=512, stop="<|eot_id|>")`. vLLM samples whenever temperature > 0 and has no top-k
    /// unless asked (transformers would add top_k=50), hence `top_k: 0`; `<|eot_id|>` is already one of
    /// the model's eos ids, and vLLM's output text skips special tokens. The v0.3 example's system
    /// message is 「あなたは誠実で優秀な日本人のアシスタントです。」; v0.5's has none.
    public static let swallowGeneration = GenerationParameters(
        doSample: true, temperature: 0.6, topK: 0, topP: 0.9, maxNewTokens: 512)

    static let swallow: [ModelPreset] = ["v0.3", "v0.5"].map { version in
        chatPreset(id: "llama-3.1-swallow-8b-instruct-\(version)", repo: "tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-\(version)",
                   family: .llama, generation: swallowGeneration,
                   summary: "Llama 3.1 Swallow 8B instruct \(version) (Llama 3)")
    }

    /// Llama-3-ELYZA-JP-8B card: `generate(token_ids, max_new_tokens=1200, do_sample=True,
    /// temperature=0.6, top_p=0.9)`, `torch_dtype="auto"` (bfloat16), prompt encoded with
    /// `add_special_tokens=False`, new tokens decoded with `skip_special_tokens=True`. Its system
    /// message: 「あなたは誠実で優秀な日本人のアシスタントです。特に指示が無い場合は、常に日本語で回答してください。」.
    public static let elyzaGeneration = GenerationParameters(doSample: true, temperature: 0.6, topP: 0.9, maxNewTokens: 1200)

    static let elyza = chatPreset(id: "llama-3-elyza-jp-8b", repo: "elyza/Llama-3-ELYZA-JP-8B", family: .llama,
                                  generation: elyzaGeneration, summary: "ELYZA Llama-3-ELYZA-JP 8B (Llama 3)")

    /// calm3-22b-chat card: `generate(input_ids, max_new_tokens=1024, temperature=0.5, streamer=...)`
    /// with `torch_dtype="auto"` and no `do_sample`: whether it samples is the repository's
    /// generation_config.json's to say (without do_sample there, transformers decodes greedily and
    /// ignores the temperature). Its system message: 「あなたは親切なAIアシスタントです。」.
    public static let calm3Generation = GenerationParameters(temperature: 0.5, maxNewTokens: 1024)

    static let calm3 = chatPreset(id: "calm3-22b-chat", repo: "cyberagent/calm3-22b-chat", family: .llama,
                                  generation: calm3Generation, summary: "CyberAgent CALM3 22B chat (Llama)")

    /// sarashina2.2-3b-instruct-v0.1 card: `pipeline("text-generation", ...)(user_input, max_length=50,
    /// do_sample=True, num_return_sequences=3)`, `torch_dtype=torch.bfloat16`. max_length counts the
    /// prompt too (transformers' meaning, which Kataribe keeps); the three samples are what
    /// `--samples 3` asks for, so num_return_sequences is not pinned.
    public static let sarashinaGeneration = GenerationParameters(doSample: true, maxLength: 50)

    static let sarashina = chatPreset(id: "sarashina2.2-3b-instruct", repo: "sbintuitions/sarashina2.2-3b-instruct-v0.1",
                                      family: .llama, generation: sarashinaGeneration,
                                      summary: "SB Intuitions sarashina2.2 3B instruct v0.1 (Llama)")

    /// TinySwallow-1.5B-Instruct card: `generate(input_ids, max_new_tokens=1024)` with no dtype
    /// (transformers 5 loads the stored bfloat16), `batch_decode(..., skip_special_tokens=True)`.
    /// Sampling comes from its generation_config.json.
    public static let tinySwallowGeneration = GenerationParameters(maxNewTokens: 1024)

    static let tinySwallow = chatPreset(id: "tinyswallow-1.5b-instruct", repo: "SakanaAI/TinySwallow-1.5B-Instruct",
                                        family: .qwen2, generation: tinySwallowGeneration,
                                        summary: "Sakana AI TinySwallow 1.5B instruct (Qwen2)")

    /// Qwen2.5 instruct cards: `generate(**model_inputs, max_new_tokens=512)`, `torch_dtype="auto"`,
    /// `batch_decode(..., skip_special_tokens=True)`; sampling from generation_config.json. (The chat
    /// template itself adds Qwen's default system message when there is none.)
    public static let qwen25Generation = GenerationParameters(maxNewTokens: 512)

    static let qwen25: [ModelPreset] = [("0.5B", "0.5b"), ("1.5B", "1.5b"), ("3B", "3b"), ("7B", "7b")].map { size, id in
        chatPreset(id: "qwen2.5-\(id)-instruct", repo: "Qwen/Qwen2.5-\(size)-Instruct", family: .qwen2,
                   generation: qwen25Generation, summary: "Qwen2.5 \(size) instruct (Qwen2)")
    }

    /// gemma-2-2b-it and gemma-2-2b-jpn-it cards: `pipeline(..., model_kwargs={"torch_dtype":
    /// torch.bfloat16})(messages, max_new_tokens=256)` (jpn-it: also `return_full_text=False`); their
    /// generation_config.json does not sample. gemma-3-1b-it card: `pipeline(...,
    /// torch_dtype=torch.bfloat16)(messages, max_new_tokens=50)`.
    public static let gemma2Generation = GenerationParameters(maxNewTokens: 256)
    public static let gemma3Generation = GenerationParameters(maxNewTokens: 50)

    static let gemma: [ModelPreset] = [
        chatPreset(id: "gemma-2-2b-it", repo: "google/gemma-2-2b-it", family: .gemma2, generation: gemma2Generation,
                   summary: "Google Gemma 2 2B instruct (Gemma2)"),
        chatPreset(id: "gemma-2-2b-jpn-it", repo: "google/gemma-2-2b-jpn-it", family: .gemma2, generation: gemma2Generation,
                   summary: "Google Gemma 2 2B Japanese instruct (Gemma2)"),
        chatPreset(id: "gemma-3-1b-it", repo: "google/gemma-3-1b-it", family: .gemma3, generation: gemma3Generation,
                   summary: "Google Gemma 3 1B instruct (Gemma3, text only)"),
    ]

    /// Every card here loads bfloat16 weights (by name or as the stored dtype through "auto"), uses
    /// the fast tokenizer (tokenizer.json) and shows only the reply.
    static func chatPreset(id: String, repo: String, family: ModelFamily, skipSpecialTokens: Bool = true,
                           generation: GenerationParameters, summary: String) -> ModelPreset {
        ModelPreset(id: id, hubRepoID: repo, localPath: nil, family: family, dtype: .bfloat16, tokenizer: .fast,
                    addSpecialTokens: false, skipSpecialTokens: skipSpecialTokens, decodeIncludesPrompt: false,
                    promptFormat: chatTemplate, generation: generation, summary: summary,
                    source: "https://huggingface.co/\(repo)")
    }
}
