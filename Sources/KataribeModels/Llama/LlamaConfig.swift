import Foundation
import KataribeTensor

/// `config.json` of the Llama family, key for key: `llama` (Llama 2/3, llm-jp-3, Swallow, ELYZA,
/// CALM3, Sarashina), `mistral` (sliding window), `qwen2` (q/k/v biases; TinySwallow, Qwen2.5) and
/// `qwen3` (q/k RMSNorm). They share one forward pass; `model_type` decides which weights exist.
/// RoPE is read from `rope_theta` + `rope_scaling` (released configs) or transformers 5's
/// `rope_parameters`.
public struct LlamaConfig: Codable, Sendable, Equatable {
    public var modelType: String
    public var architectures: [String]?
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int?
    public var headDim: Int?
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int?
    public var rmsNormEps: Double?
    public var ropeTheta: Double?
    public var ropeScaling: RopeSettings?
    public var ropeParameters: RopeSettings?
    public var attentionBias: Bool?
    public var mlpBias: Bool?
    public var tieWordEmbeddings: Bool?
    public var hiddenAct: String?
    public var slidingWindow: Int?
    public var useSlidingWindow: Bool?
    public var maxWindowLayers: Int?
    public var layerTypes: [String]?
    public var bosTokenId: Int?
    public var eosTokenId: GPTNeoXConfig.TokenIDs?
    public var padTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", architectures
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case vocabSize = "vocab_size", maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta", ropeScaling = "rope_scaling", ropeParameters = "rope_parameters"
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", tieWordEmbeddings = "tie_word_embeddings"
        case hiddenAct = "hidden_act", slidingWindow = "sliding_window", useSlidingWindow = "use_sliding_window"
        case maxWindowLayers = "max_window_layers", layerTypes = "layer_types"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
    }

    public var kvHeads: Int { numKeyValueHeads ?? numAttentionHeads }
    public var headDimension: Int { headDim ?? hiddenSize / numAttentionHeads }
    /// transformers' defaults: 2048 positions for Llama, 4096·32 for Mistral/Qwen (their configs always say).
    public var trainedPositions: Int { maxPositionEmbeddings ?? 2048 }
    public var epsilon: Double { rmsNormEps ?? 1e-6 }
    public var tiedEmbeddings: Bool { tieWordEmbeddings ?? false }
    public var activationName: String { hiddenAct ?? "silu" }
    public var eosTokenIDs: [Int] { eosTokenId?.ids ?? [] }

    /// The RoPE settings whichever way they were written (`rope_parameters` wins, as in transformers 5).
    public var rope: RopeSettings {
        var settings = ropeParameters ?? ropeScaling ?? RopeSettings()
        if settings.ropeTheta == nil { settings.ropeTheta = ropeTheta ?? ropeParameters?.ropeTheta ?? 10_000 }
        return settings
    }

    /// q, k and v projections have a bias (Qwen2 always; Llama with `attention_bias`).
    public var hasQKVBias: Bool { modelType == "qwen2" || (attentionBias ?? false) }
    /// The output projection has a bias (Llama's `attention_bias` covers it; Qwen2's bias does not).
    public var hasOutputBias: Bool { modelType != "qwen2" && (attentionBias ?? false) }
    public var hasQKNorm: Bool { modelType == "qwen3" }

    /// Sliding window of each layer, or nil for full attention (layer_types when given; Mistral
    /// windows every layer; Qwen windows layers from max_window_layers on when use_sliding_window).
    public func window(layer: Int) -> Int? {
        guard let window = slidingWindow else { return nil }
        if let layerTypes, layer < layerTypes.count { return layerTypes[layer] == "sliding_attention" ? window : nil }
        switch modelType {
        case "mistral": return window
        case "qwen2", "qwen3": return (useSlidingWindow ?? false) && layer >= (maxWindowLayers ?? 0) ? window : nil
        default: return nil
        }
    }

    /// How many tokens a session may hold: the trained length, or `factor` times it for dynamic
    /// NTK, which exists to run past it.
    public var contextLength: Int {
        let rope = self.rope
        if rope.kind == "dynamic", let factor = rope.factor, factor > 1 { return Int(Double(trainedPositions) * factor) }
        return trainedPositions
    }

    public var parameterCount: Int {
        let h = hiddenSize, d = headDimension
        let attention = h * numAttentionHeads * d * 2 + h * kvHeads * d * 2
        let mlp = 3 * h * intermediateSize
        return vocabSize * h * (tiedEmbeddings ? 1 : 2) + numHiddenLayers * (attention + mlp + 2 * h) + h
    }

    public func validate(file: String, availableMemory: Int = Int(clamping: ProcessInfo.processInfo.physicalMemory)) throws(ModelError) {
        func invalid(_ key: String, _ reason: String) -> ModelError { .invalidConfigValue(file: file, key: key, reason: reason) }
        let limits: [(String, Int, Int)] = [
            ("hidden_size", hiddenSize, 1 << 17), ("num_hidden_layers", numHiddenLayers, 1 << 12),
            ("num_attention_heads", numAttentionHeads, 1 << 12), ("num_key_value_heads", kvHeads, 1 << 12),
            ("head_dim", headDimension, 1 << 12), ("intermediate_size", intermediateSize, 1 << 19),
            ("vocab_size", vocabSize, 1 << 24), ("max_position_embeddings", trainedPositions, 1 << 22),
        ]
        try ConfigChecks.sizes(limits, file: file)
        guard headDim != nil || hiddenSize % numAttentionHeads == 0 else {
            throw invalid("hidden_size", "\(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        }
        try ConfigChecks.heads(numAttentionHeads, kvHeads: kvHeads, headDim: headDimension, file: file)
        guard epsilon.isFinite, epsilon > 0 else { throw invalid("rms_norm_eps", "must be positive") }
        if let window = slidingWindow, window <= 0 { throw invalid("sliding_window", "must be positive") }
        guard Activation(configName: activationName) == .silu else {
            throw .unsupportedFeature(file: file, feature: "hidden_act '\(activationName)' (the Llama family uses silu)")
        }
        guard RopeSettings.supportedKinds.contains(rope.kind) else {
            throw .unsupportedFeature(file: file, feature: "rope_type '\(rope.kind)' (supported: \(RopeSettings.supportedKinds.joined(separator: ", ")))")
        }
        if let factor = rope.partialRotaryFactor, factor != 1 {
            throw .unsupportedFeature(file: file, feature: "partial_rotary_factor \(factor)")
        }
        try ConfigChecks.tokenIDs([bosTokenId, padTokenId].compactMap({ $0 }) + eosTokenIDs, file: file)
        try ConfigChecks.fitsInMemory(parameters: parameterCount, file: file, availableMemory: availableMemory)
    }
}

extension LlamaConfig: ModelConfig {
    public var vocabularySize: Int { vocabSize }
    public var bosTokenID: Int? { bosTokenId }
}
