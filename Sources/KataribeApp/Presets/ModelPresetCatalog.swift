import KataribeGeneration

/// The models Kataribe knows, with the settings from their model cards.
public enum ModelPresetCatalog {
    /// open-calm cards: `generate(max_new_tokens=64, do_sample=True, temperature=0.7, top_p=0.9,
    /// repetition_penalty=1.05)`, `torch_dtype=torch.float16`, default (fast) tokenizer, output
    /// `decode(tokens[0], skip_special_tokens=True)`. top_k is not set, so transformers' 50 applies.
    public static let openCalmGeneration = GenerationParameters(
        doSample: true, temperature: 0.7, topP: 0.9, repetitionPenalty: 1.05, maxNewTokens: 64)

    /// rinna/japanese-gpt-neox-3.6b card: `generate(max_new_tokens=100, min_new_tokens=100,
    /// do_sample=True, temperature=0.8)`, slow tokenizer, `add_special_tokens=False`.
    public static let rinnaBaseGeneration = GenerationParameters(
        doSample: true, temperature: 0.8, minNewTokens: 100, maxNewTokens: 100)

    /// rinna instruction-sft-v2 / -ppo cards: `generate(do_sample=True, max_new_tokens=128,
    /// temperature=0.7, repetition_penalty=1.1)`, slow tokenizer, `add_special_tokens=False`, chat format.
    public static let rinnaInstructionGeneration = GenerationParameters(
        doSample: true, temperature: 0.7, repetitionPenalty: 1.1, maxNewTokens: 128)

    public static let all: [ModelPreset] = openCalm + rinna + demo + chat

    static let openCalm: [ModelPreset] = [
        ("small", "160M"), ("medium", "400M"), ("large", "830M"), ("1b", "1.4B"), ("3b", "2.7B"), ("7b", "6.8B"),
    ].map { size, params in
        ModelPreset(
            id: "open-calm-\(size)", hubRepoID: "cyberagent/open-calm-\(size)", localPath: nil, family: .openCalm,
            dtype: .float16, tokenizer: .fast, addSpecialTokens: true, skipSpecialTokens: true,
            decodeIncludesPrompt: true, promptFormat: .plain, generation: openCalmGeneration,
            summary: "CyberAgent OpenCALM \(params) (GPT-NeoX, Japanese)",
            source: "https://huggingface.co/cyberagent/open-calm-\(size)")
    }

    static let rinna: [ModelPreset] = [
        ModelPreset(
            id: "rinna-3.6b", hubRepoID: "rinna/japanese-gpt-neox-3.6b", localPath: nil, family: .rinnaGPTNeoX,
            dtype: .float16, tokenizer: .slow, addSpecialTokens: false, skipSpecialTokens: false,
            decodeIncludesPrompt: true, promptFormat: .plain, generation: rinnaBaseGeneration,
            summary: "rinna Japanese GPT-NeoX 3.6B (pretrained)",
            source: "https://huggingface.co/rinna/japanese-gpt-neox-3.6b"),
        ModelPreset(
            id: "rinna-3.6b-sft-v2", hubRepoID: "rinna/japanese-gpt-neox-3.6b-instruction-sft-v2", localPath: nil,
            family: .rinnaGPTNeoX, dtype: .float16, tokenizer: .slow, addSpecialTokens: false, skipSpecialTokens: false,
            decodeIncludesPrompt: false, promptFormat: .rinnaChat, generation: rinnaInstructionGeneration,
            summary: "rinna Japanese GPT-NeoX 3.6B instruction SFT v2 (chat)",
            source: "https://huggingface.co/rinna/japanese-gpt-neox-3.6b-instruction-sft-v2"),
        ModelPreset(
            id: "rinna-3.6b-ppo", hubRepoID: "rinna/japanese-gpt-neox-3.6b-instruction-ppo", localPath: nil,
            family: .rinnaGPTNeoX, dtype: .float16, tokenizer: .slow, addSpecialTokens: false, skipSpecialTokens: false,
            decodeIncludesPrompt: false, promptFormat: .rinnaChat, generation: rinnaInstructionGeneration,
            summary: "rinna Japanese GPT-NeoX 3.6B instruction PPO (chat)",
            source: "https://huggingface.co/rinna/japanese-gpt-neox-3.6b-instruction-ppo"),
    ]

    /// The project's small demo checkpoints, configured like the families they imitate.
    static let demo: [ModelPreset] = [
        ModelPreset(
            id: "demo-calm", hubRepoID: nil, localPath: "Models/demo-calm", family: .openCalm, dtype: .float16,
            tokenizer: .fast, addSpecialTokens: true, skipSpecialTokens: true, decodeIncludesPrompt: true,
            promptFormat: .plain, generation: openCalmGeneration,
            summary: "Kataribe demo model, open-calm style (local)"),
        ModelPreset(
            id: "demo-rinna-sft", hubRepoID: nil, localPath: "Models/demo-rinna-sft", family: .rinnaGPTNeoX,
            dtype: .float16, tokenizer: .slow, addSpecialTokens: false, skipSpecialTokens: false,
            decodeIncludesPrompt: false, promptFormat: .rinnaChat, generation: rinnaInstructionGeneration,
            summary: "Kataribe demo model, rinna instruction-sft-v2 style chat (local)"),
    ]

    /// Looks a preset up by its id or its hub repository id.
    public static func preset(named name: String) throws(ModelPresetError) -> ModelPreset {
        if let p = all.first(where: { $0.id == name || $0.hubRepoID == name }) { return p }
        throw .unknownModel(name: name, known: all.map(\.id))
    }
}

public enum ModelPresetError: Error, CustomStringConvertible, Equatable, Sendable {
    case unknownModel(name: String, known: [String])

    public var description: String {
        switch self {
        case let .unknownModel(name, known):
            return "unknown model \"\(name)\"; known models: \(known.joined(separator: ", "))"
        }
    }
}
