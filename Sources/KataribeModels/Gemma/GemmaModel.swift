import Foundation
import KataribeCheckpoint
import KataribeTensor

/// Gemma 2 (`Gemma2ForCausalLM`) and Gemma 3's text model (`Gemma3ForCausalLM`).
///
/// x = embed_tokens[token] · √H; then per layer (d = head_dim, norms multiply by 1 + w):
///   a = RMSNorm_in(x);  q, k, v = a·W_qᵀ, a·W_kᵀ, a·W_vᵀ
///   Gemma 3: q, k ← RMSNorm over each head; rotary with the local base on sliding layers and the
///            global base (and scaling) on the others
///   s = q·kᵀ · query_pre_attn_scalar^-½;  Gemma 2: s ← cap·tanh(s/cap)
///   o = softmax(s over the visible positions; sliding layers see the last `window`) · V
///   x = x + RMSNorm_post-attn(o·W_oᵀ)
///   x = x + RMSNorm_post-ff(W_down·(gelu_tanh(W_gate·m) ⊙ W_up·m)),  m = RMSNorm_pre-ff(x)
/// logits = RMSNorm_f(x) · W_embᵀ;  Gemma 2: logits ← cap·tanh(logits/cap).
public final class GemmaModel: DecoderModel {
    public let configuration: GemmaConfig
    public var config: any ModelConfig { configuration }
    let weights: GemmaWeights
    public let statistics: WeightStatistics
    public let runtime: ModelRuntime
    public let cacheLayout: KVCacheLayout
    let localRotary: RotaryEmbedding
    let globalRotary: RotaryEmbedding
    let slidingLayers: [Bool]
    let attentions: [Attention]
    let embeddingScale: Float
    let finalSoftcap: Float?
    let backend: CPUBackend

    init(configuration: GemmaConfig, weights: GemmaWeights, statistics: WeightStatistics, local: RopeFrequencies,
         global: RopeFrequencies, runtime: ModelRuntime) {
        let c = configuration
        self.configuration = c
        self.weights = weights
        self.statistics = statistics
        self.runtime = runtime
        localRotary = RotaryEmbedding(local)
        globalRotary = RotaryEmbedding(global)
        slidingLayers = (0..<c.numHiddenLayers).map { c.isSliding(layer: $0) }
        let softcap = c.attnLogitSoftcapping.map { Float($0) }
        attentions = slidingLayers.map { sliding in
            Attention(queryHeads: c.numAttentionHeads, kvHeads: c.kvHeads, headDim: c.headDimension, scale: c.attentionScale,
                      window: sliding ? c.slidingWindow : nil, softcap: softcap)
        }
        // transformers multiplies by √H cast to the activations' dtype (float32 here).
        embeddingScale = Float(Double(c.hiddenSize).squareRoot())
        finalSoftcap = c.finalLogitSoftcapping.map { Float($0) }
        backend = runtime.backend
        cacheLayout = runtime.cacheLayout(layers: c.numHiddenLayers, heads: c.numAttentionHeads, kvHeads: c.kvHeads,
                                          headDim: c.headDimension)
    }

    public func makeSession() -> any LanguageModelSession { DecoderSession(model: self) }
    public func makeBatch(capacity: Int) -> any SequenceBatch { DecoderBatch(model: self, capacity: capacity) }

    public var shape: ModelShape {
        let c = configuration
        return ModelShape(
            modelType: c.modelType, architectures: c.architectures ?? [c.isGemma3 ? "Gemma3ForCausalLM" : "Gemma2ForCausalLM"],
            hiddenSize: c.hiddenSize, layers: c.numHiddenLayers, attentionHeads: c.numAttentionHeads, kvHeads: c.kvHeads,
            headDim: c.headDimension, intermediateSize: c.intermediateSize, vocabularySize: c.vocabSize,
            contextLength: c.contextLength, rotaryDimensions: c.headDimension, rotaryBase: c.rope(sliding: false).ropeTheta ?? 10_000,
            parallelResidual: false, activation: c.activationName, bosTokenID: c.bosTokenId, eosTokenIDs: c.eosTokenIDs)
    }

    public var linearWeightFormat: WeightFormat { weights.layers.first?.mlp.up.weight.format ?? weights.lmHead.format }

    public func scratchBytes(rows: Int) -> Int {
        let c = configuration, q = c.numAttentionHeads * c.headDimension, kv = c.kvHeads * c.headDimension
        return 4 * rows * (4 * c.hiddenSize + 2 * q + 2 * kv + 2 * c.intermediateSize + 2 * c.headDimension)
            + 4 * c.vocabSize + 4 * c.numAttentionHeads * c.contextLength
    }

    // MARK: Forward pass

    struct Scratch {
        let arena: ScratchArena
        let x, normed, projected, mlpOut: FloatRows
        let localCos, localSin, globalCos, globalSin: FloatRows
        let block: DecoderBlockScratch
    }

    func makeScratch(rows: Int) -> Scratch {
        let c = configuration, arena = ScratchArena(rows: rows), half = c.headDimension / 2
        return Scratch(
            arena: arena, x: arena.rows(width: c.hiddenSize), normed: arena.rows(width: c.hiddenSize),
            projected: arena.rows(width: c.hiddenSize), mlpOut: arena.rows(width: c.hiddenSize),
            localCos: arena.rows(width: half), localSin: arena.rows(width: half),
            globalCos: arena.rows(width: half), globalSin: arena.rows(width: half),
            block: DecoderBlockScratch(arena: arena, heads: c.numAttentionHeads, kvHeads: c.kvHeads, headDim: c.headDimension,
                                       intermediate: c.intermediateSize))
    }

    func forward(_ step: ForwardStep, scratch s: Scratch, logits: FloatRows, logitRows: [Int]) {
        let n = step.count, h = configuration.hiddenSize, b = backend.running(step)

        // x[n, H] = embed_tokens[token] · √H
        for (i, token) in step.tokens.enumerated() {
            let row = s.x.row(i)
            weights.embedTokens.row(token, into: row)
            for j in 0..<h { row[j] = row[j] * embeddingScale }
        }
        localRotary.tables(step, cos: s.localCos, sin: s.localSin)
        globalRotary.tables(step, cos: s.globalCos, sin: s.globalSin)

        for (layerIndex, layer) in weights.layers.enumerated() {
            let sliding = slidingLayers[layerIndex]
            // x = x + RMSNorm_post-attn(attention(RMSNorm_in(x)))
            b.rmsNorm(layer.inputNorm, s.x, rows: n, into: s.normed)
            b.selfAttention(layer.attention, attentions[layerIndex], rotary: sliding ? localRotary : globalRotary,
                            cos: sliding ? s.localCos : s.globalCos, sin: sliding ? s.localSin : s.globalSin,
                            normed: s.normed, step: step, layer: layerIndex,
                            scratch: s.block, into: s.projected)
            b.rmsNorm(layer.postAttentionNorm, s.projected, rows: n, into: s.projected)
            b.addResidual(s.x, s.projected, rows: n)
            // x = x + RMSNorm_post-ff(W_down·(gelu_tanh(W_gate·m) ⊙ W_up·m)),  m = RMSNorm_pre-ff(x)
            b.rmsNorm(layer.preFeedforwardNorm, s.x, rows: n, into: s.normed)
            b.gatedMLP(layer.mlp, activation: .geluTanh, normed: s.normed, rows: n, scratch: s.block, into: s.mlpOut)
            b.rmsNorm(layer.postFeedforwardNorm, s.mlpOut, rows: n, into: s.mlpOut)
            b.addResidual(s.x, s.mlpOut, rows: n)
        }

        // logits[i, V] = cap·tanh(RMSNorm_f(x[logitRows[i]]) · W_lmᵀ / cap)
        b.outputLogits(step, rows: logitRows, x: s.x, normed: s.normed, norm: { b.rmsNorm(weights.finalNorm, $0, rows: $1, into: $2) },
                       head: weights.lmHead, into: logits)
        if let cap = finalSoftcap {
            for r in 0..<logitRows.count {
                let row = logits.row(r)
                for j in 0..<logits.width { row[j] = tanhf(row[j] / cap) * cap }
            }
        }
    }
}

/// The registry entry: config.json `gemma2`, `gemma3_text`.
enum GemmaArchitecture: ModelArchitecture {
    static let modelTypes = ["gemma2", "gemma3_text"]

    static func validate(_ config: GemmaConfig, file: String) throws(ModelError) {
        try config.validate(file: file)
        _ = try frequencies(config, sliding: true, file: file)
        _ = try frequencies(config, sliding: false, file: file)
    }

    static func isSkippedBuffer(_ name: String) -> Bool { name.hasSuffix(".rotary_emb.inv_freq") }

    static func takeWeights(_ taker: inout WeightTaker, config: GemmaConfig) throws(ModelError) -> (GemmaWeights, tied: Bool) {
        try GemmaWeights.take(&taker, config: config)
    }

    static func makeModel(config: GemmaConfig, weights: GemmaWeights, statistics: WeightStatistics,
                          runtime: ModelRuntime) -> GemmaModel {
        // `validate` ran on this config while decoding it, so computing the frequencies cannot fail.
        let plain = RotaryEmbeddingDefaults.frequencies(dimensions: config.headDimension, maxPositions: config.contextLength)
        let local = (try? frequencies(config, sliding: true, file: "")) ?? plain
        let global = (try? frequencies(config, sliding: false, file: "")) ?? plain
        return GemmaModel(configuration: config, weights: weights, statistics: statistics, local: local, global: global,
                          runtime: runtime)
    }

    static func frequencies(_ config: GemmaConfig, sliding: Bool, file: String) throws(ModelError) -> RopeFrequencies {
        try ConfigChecks.frequencies(config.rope(sliding: sliding), dimensions: config.headDimension,
                                     maxPositions: config.contextLength, file: file)
    }
}
