import Foundation
import KataribeCheckpoint
import KataribeTensor

/// The Llama family (`LlamaForCausalLM`, `MistralForCausalLM`, `Qwen2ForCausalLM`, `Qwen3ForCausalLM`).
///
/// Per layer, for n rows (H = hidden, d = head_dim, Q = heads·d, K = kv_heads·d, I = intermediate):
///   a       = RMSNorm₁(x)                                  [n, H]
///   q, k, v = a·W_qᵀ (+b), a·W_kᵀ (+b), a·W_vᵀ (+b)        [n, Q], [n, K], [n, K]
///   Qwen3:  q, k ← RMSNorm over each head (q_norm, k_norm)
///   q, k    ← rotary(q, k) ("rotate_half" layout, scaled frequencies per rope_type)
///   o       = softmax(q·Kᵀ/√d over the visible positions) · V, query head h on kv head h/(heads/kv)
///             (Mistral/Qwen sliding windows see the last `window` positions)      [n, Q]
///   x       = x + o·W_oᵀ (+b)
///   x       = x + W_down·(silu(W_gate·RMSNorm₂(x)) ⊙ W_up·RMSNorm₂(x))
/// then logits = RMSNorm_f(x) · W_lmᵀ.
public final class LlamaModel: DecoderModel {
    public let configuration: LlamaConfig
    public var config: any ModelConfig { configuration }
    let weights: LlamaWeights
    public let statistics: WeightStatistics
    let rotary: RotaryEmbedding
    /// One per layer: layers differ in their sliding window.
    let attentions: [Attention]
    let backend: CPUBackend
    public let parallelism: Parallelism
    public let batchCapacity: Int
    public let cacheLayout: KVCacheLayout
    public let weightSource: WeightSource
    public let files: [URL]
    public let format: String

    init(configuration: LlamaConfig, weights: LlamaWeights, statistics: WeightStatistics, rope: RopeFrequencies,
         context: ModelBuildContext) {
        let c = configuration
        self.configuration = c
        self.weights = weights
        self.statistics = statistics
        rotary = RotaryEmbedding(rope)
        attentions = (0..<c.numHiddenLayers).map { layer in
            Attention(queryHeads: c.numAttentionHeads, kvHeads: c.kvHeads, headDim: c.headDimension, window: c.window(layer: layer))
        }
        parallelism = context.parallelism
        backend = CPUBackend(parallelism: context.parallelism)
        batchCapacity = max(1, context.batchCapacity)
        cacheLayout = KVCacheLayout(layers: c.numHiddenLayers, kvHeads: c.kvHeads, headDim: c.headDimension,
                                    queryHeads: c.numAttentionHeads, format: context.kvCacheFormat)
        weightSource = context.weightSource
        files = context.files
        format = context.format
    }

    public func makeSession() -> any LanguageModelSession { DecoderSession(model: self) }

    public var shape: ModelShape {
        let c = configuration
        let defaultArchitecture = ["llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
                                   "qwen3": "Qwen3ForCausalLM"][c.modelType] ?? "LlamaForCausalLM"
        return ModelShape(
            modelType: c.modelType, architectures: c.architectures ?? [defaultArchitecture], hiddenSize: c.hiddenSize,
            layers: c.numHiddenLayers, attentionHeads: c.numAttentionHeads, kvHeads: c.kvHeads, headDim: c.headDimension,
            intermediateSize: c.intermediateSize, vocabularySize: c.vocabSize, contextLength: c.contextLength,
            rotaryDimensions: c.headDimension, rotaryBase: c.rope.ropeTheta ?? 10_000, parallelResidual: false,
            activation: c.activationName, bosTokenID: c.bosTokenId, eosTokenIDs: c.eosTokenIDs)
    }

    public var linearWeightFormat: WeightFormat { weights.layers.first?.up.weight.format ?? weights.lmHead.format }

    public func scratchBytes(rows: Int) -> Int {
        let c = configuration, q = c.numAttentionHeads * c.headDimension, kv = c.kvHeads * c.headDimension
        return 4 * rows * (4 * c.hiddenSize + 2 * q + 2 * kv + 2 * c.intermediateSize + c.vocabSize + c.headDimension)
            + 4 * c.numAttentionHeads * c.contextLength
    }

    // MARK: Forward pass

    struct Scratch {
        let arena: ScratchArena
        let x, normed, query, key, value, attention, projected, gate, up, mlpOut, rotaryCos, rotarySin: FloatRows
    }

    func makeScratch(rows: Int) -> Scratch {
        let c = configuration, arena = ScratchArena(rows: rows)
        let q = c.numAttentionHeads * c.headDimension, kv = c.kvHeads * c.headDimension
        return Scratch(
            arena: arena, x: arena.rows(width: c.hiddenSize), normed: arena.rows(width: c.hiddenSize),
            query: arena.rows(width: q), key: arena.rows(width: kv), value: arena.rows(width: kv),
            attention: arena.rows(width: q), projected: arena.rows(width: c.hiddenSize),
            gate: arena.rows(width: c.intermediateSize), up: arena.rows(width: c.intermediateSize),
            mlpOut: arena.rows(width: c.hiddenSize),
            rotaryCos: arena.rows(width: rotary.half), rotarySin: arena.rows(width: rotary.half))
    }

    func forward(_ tokens: [Int], positions: [Int], cache: KVCache, scratch s: Scratch, logits: FloatRows, logitRows: Range<Int>) {
        let c = configuration, n = tokens.count, h = c.hiddenSize, d = c.headDimension
        let heads = c.numAttentionHeads, kvHeads = c.kvHeads, b = backend

        // x[n, H] = embed_tokens[token]
        for (i, token) in tokens.enumerated() { weights.embedTokens.row(token, into: s.x.row(i)) }
        rotary.tables(positions: positions, cos: s.rotaryCos, sin: s.rotarySin)
        let queries = Attention.Queries(base: s.query.base, rowStride: heads * d, headStride: d)

        for (layerIndex, layer) in weights.layers.enumerated() {
            layer.inputNorm(s.x, rows: n, into: s.normed)
            b.linear(layer.query, s.normed, rows: n, into: s.query)                       // [n, Q]
            b.linear(layer.key, s.normed, rows: n, into: s.key)                           // [n, K]
            b.linear(layer.value, s.normed, rows: n, into: s.value)                       // [n, K]
            if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
                queryNorm(s.query.base, rows: n * heads, width: d, into: s.query.base)
                keyNorm(s.key.base, rows: n * kvHeads, width: d, into: s.key.base)
            }
            for i in 0..<n {
                let cos = s.rotaryCos.row(i), sin = s.rotarySin.row(i)
                for head in 0..<heads { rotary.rotate(s.query.row(i) + head * d, cos: cos, sin: sin) }
                for head in 0..<kvHeads {
                    let k = s.key.row(i) + head * d
                    rotary.rotate(k, cos: cos, sin: sin)
                    cache.store(layer: layerIndex, kvHead: head, position: positions[i], key: k, value: s.value.row(i) + head * d)
                }
            }
            b.attend(attentions[layerIndex], queries, positions: positions, cache: cache, layer: layerIndex, into: s.attention)
            b.linear(layer.output, s.attention, rows: n, into: s.projected)               // [n, H]
            let x = s.x.base, projected = s.projected.base, mlpOut = s.mlpOut.base
            for i in 0..<(n * h) { x[i] = x[i] + projected[i] }

            layer.postAttentionNorm(s.x, rows: n, into: s.normed)
            b.linear(layer.gate, s.normed, rows: n, into: s.gate)                         // [n, I]
            b.linear(layer.up, s.normed, rows: n, into: s.up)                             // [n, I]
            b.activate(.silu, s.gate, rows: n)
            let gate = s.gate.base, up = s.up.base
            for i in 0..<(n * c.intermediateSize) { gate[i] = gate[i] * up[i] }
            b.linear(layer.down, s.gate, rows: n, into: s.mlpOut)                         // [n, H]
            for i in 0..<(n * h) { x[i] = x[i] + mlpOut[i] }
        }

        guard !logitRows.isEmpty else { return }
        let first = logitRows.lowerBound, rows = logitRows.count
        weights.finalNorm(FloatRows(base: s.x.row(first), width: h), rows: rows, into: s.normed)
        weights.lmHead.gemm(s.normed.base, count: rows, into: logits.row(first), bias: nil, parallelism: parallelism)
    }
}

/// The registry entry: config.json `llama`, `mistral`, `qwen2`, `qwen3`.
enum LlamaArchitecture: ModelArchitecture {
    static let modelTypes = ["llama", "mistral", "qwen2", "qwen3"]

    static func validate(_ config: LlamaConfig, file: String) throws(ModelError) {
        try config.validate(file: file)
        _ = try frequencies(config, file: file)
    }

    static func isSkippedBuffer(_ name: String) -> Bool { LlamaWeights.isSkippedBuffer(name) }

    static func takeWeights(_ taker: inout WeightTaker, config: LlamaConfig) throws(ModelError) -> (LlamaWeights, tied: Bool) {
        try LlamaWeights.take(&taker, config: config)
    }

    static func makeModel(config: LlamaConfig, weights: LlamaWeights, statistics: WeightStatistics,
                          context: ModelBuildContext) -> LlamaModel {
        // `validate` ran on this config while decoding it, so computing the frequencies cannot fail.
        let rope = (try? frequencies(config, file: ""))
            ?? RotaryEmbeddingDefaults.frequencies(dimensions: config.headDimension, maxPositions: config.trainedPositions)
        return LlamaModel(configuration: config, weights: weights, statistics: statistics, rope: rope, context: context)
    }

    static func frequencies(_ config: LlamaConfig, file: String) throws(ModelError) -> RopeFrequencies {
        let rope = config.rope
        do {
            return try RopeFrequencies(dimensions: config.headDimension, base: rope.ropeTheta ?? 10_000, settings: rope,
                                       maxPositions: config.trainedPositions)
        } catch {
            switch error {
            case .unsupported(let kind): throw .unsupportedFeature(file: file, feature: "rope_type '\(kind)'")
            case .missing(let what, let kind): throw .invalidConfigValue(file: file, key: "rope_scaling", reason: "\(kind) needs \(what)")
            }
        }
    }
}
