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
    public let runtime: ModelRuntime
    public let cacheLayout: KVCacheLayout
    let rotary: RotaryEmbedding
    /// One per layer: layers differ in their sliding window.
    let attentions: [Attention]
    let backend: CPUBackend

    init(configuration: LlamaConfig, weights: LlamaWeights, statistics: WeightStatistics, rope: RopeFrequencies, runtime: ModelRuntime) {
        let c = configuration
        self.configuration = c
        self.weights = weights
        self.statistics = statistics
        self.runtime = runtime
        rotary = RotaryEmbedding(rope)
        attentions = (0..<c.numHiddenLayers).map { layer in
            Attention(queryHeads: c.numAttentionHeads, kvHeads: c.kvHeads, headDim: c.headDimension, window: c.window(layer: layer))
        }
        backend = runtime.backend
        cacheLayout = runtime.cacheLayout(layers: c.numHiddenLayers, heads: c.numAttentionHeads, kvHeads: c.kvHeads,
                                          headDim: c.headDimension)
    }

    public func makeSession() -> any LanguageModelSession { DecoderSession(model: self) }
    public func makeBatch(capacity: Int) -> any SequenceBatch { DecoderBatch(model: self, capacity: capacity) }

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

    public var linearWeightFormat: WeightFormat { weights.layers.first?.mlp.up.weight.format ?? weights.lmHead.format }

    public func scratchBytes(rows: Int) -> Int {
        let c = configuration, q = c.numAttentionHeads * c.headDimension, kv = c.kvHeads * c.headDimension
        return 4 * rows * (4 * c.hiddenSize + 2 * q + 2 * kv + 2 * c.intermediateSize + c.headDimension)
            + 4 * c.vocabSize + 4 * c.numAttentionHeads * c.contextLength
    }

    // MARK: Forward pass

    struct Scratch {
        let arena: ScratchArena
        let x, normed, projected, mlpOut, rotaryCos, rotarySin: FloatRows
        let block: DecoderBlockScratch
    }

    func makeScratch(rows: Int) -> Scratch {
        let c = configuration, arena = ScratchArena(rows: rows)
        return Scratch(
            arena: arena, x: arena.rows(width: c.hiddenSize), normed: arena.rows(width: c.hiddenSize),
            projected: arena.rows(width: c.hiddenSize), mlpOut: arena.rows(width: c.hiddenSize),
            rotaryCos: arena.rows(width: rotary.half), rotarySin: arena.rows(width: rotary.half),
            block: DecoderBlockScratch(arena: arena, heads: c.numAttentionHeads, kvHeads: c.kvHeads, headDim: c.headDimension,
                                       intermediate: c.intermediateSize))
    }

    func forward(_ step: ForwardStep, scratch s: Scratch, logits: FloatRows, logitRows: [Int]) {
        let n = step.count, b = backend.running(step)

        // x[n, H] = embed_tokens[token]
        for (i, token) in step.tokens.enumerated() { weights.embedTokens.row(token, into: s.x.row(i)) }
        rotary.tables(step, cos: s.rotaryCos, sin: s.rotarySin)

        for (layerIndex, layer) in weights.layers.enumerated() {
            // x = x + attention(RMSNorm₁(x))
            b.rmsNorm(layer.inputNorm, s.x, rows: n, into: s.normed)
            b.selfAttention(layer.attention, attentions[layerIndex], rotary: rotary, cos: s.rotaryCos, sin: s.rotarySin,
                            normed: s.normed, step: step, layer: layerIndex,
                            scratch: s.block, into: s.projected)
            b.addResidual(s.x, s.projected, rows: n)
            // x = x + W_down·(silu(W_gate·m) ⊙ W_up·m),  m = RMSNorm₂(x)
            b.rmsNorm(layer.postAttentionNorm, s.x, rows: n, into: s.normed)
            b.gatedMLP(layer.mlp, activation: .silu, normed: s.normed, rows: n, scratch: s.block, into: s.mlpOut)
            b.addResidual(s.x, s.mlpOut, rows: n)
        }

        // logits[i, V] = RMSNorm_f(x[logitRows[i]]) · W_lmᵀ
        b.outputLogits(step, rows: logitRows, x: s.x, normed: s.normed, norm: { b.rmsNorm(weights.finalNorm, $0, rows: $1, into: $2) },
                       head: weights.lmHead, into: logits)
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
                          runtime: ModelRuntime) -> LlamaModel {
        // `validate` ran on this config while decoding it, so computing the frequencies cannot fail.
        let rope = (try? frequencies(config, file: ""))
            ?? RotaryEmbeddingDefaults.frequencies(dimensions: config.headDimension, maxPositions: config.trainedPositions)
        return LlamaModel(configuration: config, weights: weights, statistics: statistics, rope: rope, runtime: runtime)
    }

    static func frequencies(_ config: LlamaConfig, file: String) throws(ModelError) -> RopeFrequencies {
        try ConfigChecks.frequencies(config.rope, dimensions: config.headDimension, maxPositions: config.trainedPositions, file: file)
    }
}
