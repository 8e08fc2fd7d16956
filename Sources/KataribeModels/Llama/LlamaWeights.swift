import KataribeCheckpoint
import KataribeTensor

struct LlamaLayerWeights: Sendable {
    let inputNorm: RMSNorm
    let postAttentionNorm: RMSNorm
    /// Qwen3 adds per-head q/k RMSNorm; Qwen2 biases q, k and v but not o.
    let attention: SelfAttentionWeights
    let mlp: GatedMLPWeights
}

/// Every Llama-family weight by its checkpoint name (`model.layers.N.self_attn.q_proj.weight`, ...).
struct LlamaWeights: Sendable {
    let embedTokens: WeightMatrix
    let layers: [LlamaLayerWeights]
    let finalNorm: RMSNorm
    let lmHead: WeightMatrix

    /// Rotary buffers some older checkpoints saved per layer; recomputed, never read.
    static func isSkippedBuffer(_ name: String) -> Bool { name.hasSuffix(".rotary_emb.inv_freq") }

    static func take(_ taker: inout WeightTaker, config: LlamaConfig) throws(ModelError) -> (LlamaWeights, tied: Bool) {
        let h = config.hiddenSize, v = config.vocabSize, d = config.headDimension, eps = Float(config.epsilon)
        let embedTokens = try taker.matrix("model.embed_tokens.weight", [v, h], convert: taker.format?.isQuantized == false)
        var layers: [LlamaLayerWeights] = []
        for n in 0..<config.numHiddenLayers {
            let p = "model.layers.\(n)."
            let headNorm: (epsilon: Float, unitOffset: Bool)? = config.hasQKNorm ? (eps, false) : nil
            layers.append(LlamaLayerWeights(
                inputNorm: RMSNorm(weight: try taker.vector(p + "input_layernorm.weight", h), epsilon: eps),
                postAttentionNorm: RMSNorm(weight: try taker.vector(p + "post_attention_layernorm.weight", h), epsilon: eps),
                attention: try taker.selfAttention(p, hidden: h, heads: config.numAttentionHeads, kvHeads: config.kvHeads, headDim: d,
                                                   qkvBias: config.hasQKVBias, outputBias: config.hasOutputBias, headNorm: headNorm),
                mlp: try taker.gatedMLP(p, hidden: h, intermediate: config.intermediateSize, bias: config.mlpBias ?? false)))
        }
        let finalNorm = RMSNorm(weight: try taker.vector("model.norm.weight", h), epsilon: eps)
        // As transformers: a stored lm_head wins; without one, a tied model reuses the embedding.
        let lmHead: WeightMatrix
        var tied = false
        if taker.has("lm_head.weight") {
            lmHead = try taker.matrix("lm_head.weight", [v, h])
        } else if config.tiedEmbeddings {
            lmHead = try taker.convert(embedTokens, savingAs: "lm_head.weight")
            tied = true
        } else {
            throw .missingTensor(file: taker.location, name: "lm_head.weight")
        }
        try taker.finish()
        return (LlamaWeights(embedTokens: embedTokens, layers: layers, finalNorm: finalNorm, lmHead: lmHead), tied)
    }
}
