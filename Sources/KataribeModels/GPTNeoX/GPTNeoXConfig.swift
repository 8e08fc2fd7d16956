import Foundation
import KataribeTensor

/// `config.json` of a `gpt_neox` checkpoint, key for key (snake_case names in `CodingKeys`).
///
/// Both spellings of the rotary settings are accepted: the one open-calm and rinna ship
/// (`rotary_pct`, `rotary_emb_base`) and transformers 5's `rope_parameters`
/// (`partial_rotary_factor`, `rope_theta`, `rope_type`); the resolved values are `rotaryFraction`
/// and `rotaryBase`. The dimensions are required; every other key falls back to transformers'
/// `GPTNeoXConfig` default.
public struct GPTNeoXConfig: Codable, Sendable, Equatable {
    public var modelType: String
    public var architectures: [String]?
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int?
    public var layerNormEps: Double?
    public var useParallelResidual: Bool?
    public var tieWordEmbeddings: Bool?
    public var attentionBias: Bool?
    public var hiddenAct: String?
    public var rotaryPct: Double?
    public var rotaryEmbBase: Double?
    public var ropeParameters: RopeParameters?
    public var ropeScaling: RopeParameters?
    public var bosTokenId: Int?
    public var eosTokenId: TokenIDs?
    public var padTokenId: Int?
    public var torchDtype: String?
    public var dtype: String?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case architectures
        case hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size"
        case vocabSize = "vocab_size"
        case maxPositionEmbeddings = "max_position_embeddings"
        case layerNormEps = "layer_norm_eps"
        case useParallelResidual = "use_parallel_residual"
        case tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias"
        case hiddenAct = "hidden_act"
        case rotaryPct = "rotary_pct"
        case rotaryEmbBase = "rotary_emb_base"
        case ropeParameters = "rope_parameters"
        case ropeScaling = "rope_scaling"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case padTokenId = "pad_token_id"
        case torchDtype = "torch_dtype"
        case dtype
    }

    /// transformers 5's `rope_parameters` (also the legacy `rope_scaling` key).
    public struct RopeParameters: Codable, Sendable, Equatable {
        public var partialRotaryFactor: Double?
        public var ropeTheta: Double?
        public var ropeType: String?
        /// Pre-v5 spelling of `rope_type` inside `rope_scaling`.
        public var type: String?

        enum CodingKeys: String, CodingKey {
            case partialRotaryFactor = "partial_rotary_factor"
            case ropeTheta = "rope_theta"
            case ropeType = "rope_type"
            case type
        }

        public init(partialRotaryFactor: Double? = nil, ropeTheta: Double? = nil, ropeType: String? = nil) {
            self.partialRotaryFactor = partialRotaryFactor
            self.ropeTheta = ropeTheta
            self.ropeType = ropeType
        }
    }

    /// `eos_token_id` may be one id or a list of ids.
    public struct TokenIDs: Codable, Sendable, Equatable {
        public var ids: [Int]

        public init(_ ids: [Int]) { self.ids = ids }

        public init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(Int.self) {
                ids = [one]
            } else {
                ids = try container.decode([Int].self)
            }
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            if ids.count == 1 { try container.encode(ids[0]) } else { try container.encode(ids) }
        }
    }

    // MARK: Resolved values (transformers' defaults where a key is absent)

    /// transformers reads `rope_scaling` first, then `rope_parameters`, then the old keys.
    var rope: RopeParameters? { ropeScaling ?? ropeParameters }
    public var rotaryFraction: Double { rope?.partialRotaryFactor ?? rotaryPct ?? 0.25 }
    public var rotaryBase: Double { rope?.ropeTheta ?? rotaryEmbBase ?? 10_000 }
    public var ropeType: String { rope?.ropeType ?? rope?.type ?? "default" }
    public var contextLength: Int { maxPositionEmbeddings ?? 2048 }
    public var layerNormEpsilon: Double { layerNormEps ?? 1e-5 }
    public var parallelResidual: Bool { useParallelResidual ?? true }
    public var tiedEmbeddings: Bool { tieWordEmbeddings ?? false }
    public var hasAttentionBias: Bool { attentionBias ?? true }
    public var activationName: String { hiddenAct ?? "gelu" }
    public var headDimension: Int { hiddenSize / max(1, numAttentionHeads) }
    /// `int(head_dim * rotary_pct)`, as transformers computes it.
    public var rotaryDimensions: Int { Int(Double(headDimension) * rotaryFraction) }
    public var eosTokenIDs: [Int] { eosTokenId?.ids ?? [] }

    public init(
        hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int, vocabSize: Int,
        maxPositionEmbeddings: Int = 2048, rotaryPct: Double = 0.25, rotaryEmbBase: Double = 10_000,
        useParallelResidual: Bool = true, tieWordEmbeddings: Bool = false, hiddenAct: String = "gelu"
    ) {
        self.modelType = "gpt_neox"
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.vocabSize = vocabSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rotaryPct = rotaryPct
        self.rotaryEmbBase = rotaryEmbBase
        self.useParallelResidual = useParallelResidual
        self.tieWordEmbeddings = tieWordEmbeddings
        self.hiddenAct = hiddenAct
    }

    /// Parameter count implied by the config (tied embeddings counted once).
    public var parameterCount: Int {
        let h = hiddenSize, i = intermediateSize, v = vocabSize
        let attentionBiases = hasAttentionBias ? 4 * h : 0
        let perLayer = 4 * h + (3 * h * h + h * h) + attentionBiases + (2 * h * i + i + h)
        return v * h * (tiedEmbeddings ? 1 : 2) + numHiddenLayers * perLayer + 2 * h
    }

    /// Checks everything the forward pass relies on, so a bad config fails here with a message
    /// instead of later with a crash. Limits are far above any real GPT-NeoX and keep all size
    /// arithmetic inside `Int`.
    public func validate(file: String, availableMemory: Int = Int(clamping: ProcessInfo.processInfo.physicalMemory)) throws(ModelError) {
        func invalid(_ key: String, _ reason: String) -> ModelError {
            .invalidConfigValue(file: file, key: key, reason: reason)
        }
        try ConfigChecks.sizes([
            ("hidden_size", hiddenSize, 1 << 17), ("num_hidden_layers", numHiddenLayers, 1 << 12),
            ("num_attention_heads", numAttentionHeads, 1 << 12), ("intermediate_size", intermediateSize, 1 << 19),
            ("vocab_size", vocabSize, 1 << 24), ("max_position_embeddings", contextLength, 1 << 22),
        ], file: file)
        guard hiddenSize % numAttentionHeads == 0 else {
            throw invalid("hidden_size", "\(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        }
        guard rotaryFraction > 0, rotaryFraction <= 1 else {
            throw invalid("rotary_pct", "\(rotaryFraction) is outside (0, 1]")
        }
        guard rotaryDimensions >= 2, rotaryDimensions % 2 == 0 else {
            throw invalid("rotary_pct", "gives \(rotaryDimensions) rotary dimensions per head; an even number >= 2 is needed")
        }
        guard rotaryBase.isFinite, rotaryBase > 0 else { throw invalid("rotary_emb_base", "must be positive") }
        guard layerNormEpsilon.isFinite, layerNormEpsilon > 0 else { throw invalid("layer_norm_eps", "must be positive") }
        guard ropeType == "default" else {
            throw .unsupportedFeature(file: file, feature: "rope_type '\(ropeType)' (only 'default' RoPE)")
        }
        guard Activation(configName: activationName) != nil else {
            throw .unsupportedFeature(
                file: file, feature: "hidden_act '\(activationName)' (supported: gelu, gelu_new, gelu_fast, gelu_pytorch_tanh)")
        }
        try ConfigChecks.tokenIDs([bosTokenId, padTokenId].compactMap({ $0 }) + eosTokenIDs, file: file)
        try ConfigChecks.fitsInMemory(parameters: parameterCount, file: file, availableMemory: availableMemory)
    }
}
