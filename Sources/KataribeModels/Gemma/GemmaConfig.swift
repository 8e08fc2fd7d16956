import Foundation
import KataribeTensor

/// `config.json` of Gemma 2 (`gemma2`) and Gemma 3's text model (`gemma3_text`), key for key.
/// Gemma 3 has two rope bases: `rope_local_base_freq` for sliding layers and `rope_theta` (+
/// `rope_scaling`) for global ones, or transformers 5's `rope_parameters` keyed by layer type.
public struct GemmaConfig: Codable, Sendable, Equatable {
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
    public var ropeLocalBaseFreq: Double?
    public var ropeScaling: RopeSettings?
    public var ropeParameters: LayerRope?
    public var queryPreAttnScalar: Double?
    public var attnLogitSoftcapping: Double?
    public var finalLogitSoftcapping: Double?
    public var slidingWindow: Int?
    public var slidingWindowPattern: Int?
    public var legacySlidingWindowPattern: Int?
    public var layerTypes: [String]?
    public var hiddenActivation: String?
    public var hiddenAct: String?
    public var attentionBias: Bool?
    public var tieWordEmbeddings: Bool?
    public var bosTokenId: Int?
    public var eosTokenId: GPTNeoXConfig.TokenIDs?
    public var padTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", architectures
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case vocabSize = "vocab_size", maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta", ropeLocalBaseFreq = "rope_local_base_freq", ropeScaling = "rope_scaling"
        case ropeParameters = "rope_parameters", queryPreAttnScalar = "query_pre_attn_scalar"
        case attnLogitSoftcapping = "attn_logit_softcapping", finalLogitSoftcapping = "final_logit_softcapping"
        case slidingWindow = "sliding_window", slidingWindowPattern = "sliding_window_pattern"
        case legacySlidingWindowPattern = "_sliding_window_pattern", layerTypes = "layer_types"
        case hiddenActivation = "hidden_activation", hiddenAct = "hidden_act", attentionBias = "attention_bias"
        case tieWordEmbeddings = "tie_word_embeddings"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
    }

    /// `rope_parameters`: one set, or one per layer type (`sliding_attention`, `full_attention`).
    public enum LayerRope: Codable, Sendable, Equatable {
        case shared(RopeSettings)
        case perLayerType([String: RopeSettings])

        public init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let perType = try? container.decode([String: RopeSettings].self),
               perType.keys.contains(where: { $0.hasSuffix("_attention") }) {
                self = .perLayerType(perType)
            } else {
                self = .shared(try container.decode(RopeSettings.self))
            }
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .shared(let settings): try container.encode(settings)
            case .perLayerType(let perType): try container.encode(perType)
            }
        }
    }

    public var isGemma3: Bool { modelType == "gemma3_text" }
    public var kvHeads: Int { numKeyValueHeads ?? numAttentionHeads }
    public var headDimension: Int { headDim ?? 256 }
    public var contextLength: Int { maxPositionEmbeddings ?? 8192 }
    public var epsilon: Double { rmsNormEps ?? 1e-6 }
    public var activationName: String { hiddenActivation ?? hiddenAct ?? "gelu_pytorch_tanh" }
    public var eosTokenIDs: [Int] { eosTokenId?.ids ?? [] }
    /// `query_pre_attn_scalar^-0.5` replaces 1/√head_dim.
    public var attentionScale: Float { Float(pow(queryPreAttnScalar ?? Double(headDimension), -0.5)) }

    /// Whether layer `index` attends through the sliding window: `layer_types` when given, else
    /// Gemma 2 alternates (even layers slide) and Gemma 3 makes every `sliding_window_pattern`-th
    /// layer global.
    public func isSliding(layer index: Int) -> Bool {
        if let layerTypes, index < layerTypes.count { return layerTypes[index] == "sliding_attention" }
        if isGemma3 {
            let pattern = slidingWindowPattern ?? legacySlidingWindowPattern ?? 6
            return (index + 1) % pattern != 0
        }
        return (index + 1) % 2 != 0
    }

    /// The RoPE settings of a sliding or a global layer.
    public func rope(sliding: Bool) -> RopeSettings {
        switch ropeParameters {
        case .perLayerType(let perType)?:
            if let settings = perType[sliding ? "sliding_attention" : "full_attention"] { return settings }
        case .shared(let settings)?:
            if !(isGemma3 && sliding) { return settings }
        case nil:
            break
        }
        if isGemma3 && sliding {
            var local = RopeSettings()
            local.ropeTheta = ropeLocalBaseFreq ?? 10_000
            return local
        }
        var global = ropeScaling ?? RopeSettings()
        if global.ropeTheta == nil { global.ropeTheta = ropeTheta ?? 10_000 }
        return global
    }

    public var parameterCount: Int {
        let h = hiddenSize, d = headDimension
        let attention = h * numAttentionHeads * d * 2 + h * kvHeads * d * 2
        return vocabSize * h + numHiddenLayers * (attention + 3 * h * intermediateSize + 4 * h) + h
    }

    public func validate(file: String, availableMemory: Int = Int(clamping: ProcessInfo.processInfo.physicalMemory)) throws(ModelError) {
        func invalid(_ key: String, _ reason: String) -> ModelError { .invalidConfigValue(file: file, key: key, reason: reason) }
        let limits: [(String, Int, Int)] = [
            ("hidden_size", hiddenSize, 1 << 17), ("num_hidden_layers", numHiddenLayers, 1 << 12),
            ("num_attention_heads", numAttentionHeads, 1 << 12), ("num_key_value_heads", kvHeads, 1 << 12),
            ("head_dim", headDimension, 1 << 12), ("intermediate_size", intermediateSize, 1 << 19),
            ("vocab_size", vocabSize, 1 << 24), ("max_position_embeddings", contextLength, 1 << 22),
        ]
        try ConfigChecks.sizes(limits, file: file)
        try ConfigChecks.heads(numAttentionHeads, kvHeads: kvHeads, headDim: headDimension, file: file)
        guard epsilon.isFinite, epsilon > 0 else { throw invalid("rms_norm_eps", "must be positive") }
        if let scalar = queryPreAttnScalar, !(scalar > 0) { throw invalid("query_pre_attn_scalar", "must be positive") }
        for (key, cap) in [("attn_logit_softcapping", attnLogitSoftcapping), ("final_logit_softcapping", finalLogitSoftcapping)] {
            if let cap, !(cap > 0) { throw invalid(key, "must be positive") }
        }
        if let window = slidingWindow, window <= 0 { throw invalid("sliding_window", "must be positive") }
        if let pattern = slidingWindowPattern, pattern <= 0 { throw invalid("sliding_window_pattern", "must be positive") }
        guard Activation(configName: activationName) == .geluTanh else {
            throw .unsupportedFeature(file: file, feature: "hidden_activation '\(activationName)' (Gemma uses gelu_pytorch_tanh)")
        }
        guard !(attentionBias ?? false) else { throw .unsupportedFeature(file: file, feature: "attention_bias in Gemma") }
        for sliding in [true, false] where !RopeSettings.supportedKinds.contains(rope(sliding: sliding).kind) {
            throw .unsupportedFeature(file: file, feature: "rope_type '\(rope(sliding: sliding).kind)'")
        }
        try ConfigChecks.tokenIDs([bosTokenId, padTokenId].compactMap({ $0 }) + eosTokenIDs, file: file)
        try ConfigChecks.fitsInMemory(parameters: parameterCount, file: file, availableMemory: availableMemory)
    }
}

extension GemmaConfig: ModelConfig {
    public var vocabularySize: Int { vocabSize }
    public var bosTokenID: Int? { bosTokenId }
}
