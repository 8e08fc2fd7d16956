import KataribeCheckpoint
import KataribeTensor

struct GemmaLayerWeights: Sendable {
    let inputNorm: RMSNorm
    let postAttentionNorm: RMSNorm
    let preFeedforwardNorm: RMSNorm
    let postFeedforwardNorm: RMSNorm
    /// Gemma 3 adds (1 + w) RMSNorm over each head of q and k.
    let attention: SelfAttentionWeights
    let mlp: GatedMLPWeights
}

/// Every Gemma 2/3 weight by its checkpoint name. Norm weights are stored as offsets from one.
struct GemmaWeights: Sendable {
    let embedTokens: WeightMatrix
    let layers: [GemmaLayerWeights]
    let finalNorm: RMSNorm
    let lmHead: WeightMatrix

    static func take(_ taker: inout WeightTaker, config: GemmaConfig) throws(ModelError) -> (GemmaWeights, tied: Bool) {
        let h = config.hiddenSize, v = config.vocabSize, d = config.headDimension, eps = Float(config.epsilon)
        func norm(_ name: String, _ size: Int) throws(ModelError) -> RMSNorm {
            RMSNorm(weight: try taker.vector(name, size), epsilon: eps, unitOffset: true)
        }
        let embedTokens = try taker.matrix("model.embed_tokens.weight", [v, h], convert: taker.format?.isQuantized == false)
        var layers: [GemmaLayerWeights] = []
        for n in 0..<config.numHiddenLayers {
            let p = "model.layers.\(n)."
            let headNorm: (epsilon: Float, unitOffset: Bool)? = config.isGemma3 ? (eps, true) : nil
            layers.append(GemmaLayerWeights(
                inputNorm: try norm(p + "input_layernorm.weight", h),
                postAttentionNorm: try norm(p + "post_attention_layernorm.weight", h),
                preFeedforwardNorm: try norm(p + "pre_feedforward_layernorm.weight", h),
                postFeedforwardNorm: try norm(p + "post_feedforward_layernorm.weight", h),
                attention: try taker.selfAttention(p, hidden: h, heads: config.numAttentionHeads, kvHeads: config.kvHeads, headDim: d,
                                                   qkvBias: false, outputBias: false, headNorm: headNorm),
                mlp: try taker.gatedMLP(p, hidden: h, intermediate: config.intermediateSize, bias: false)))
        }
        let finalNorm = try norm("model.norm.weight", h)
        // Gemma ties its output to the embedding; a stored lm_head (or a saved quantized one) wins.
        let lmHead: WeightMatrix
        var tied = false
        if taker.has("lm_head.weight") {
            lmHead = try taker.matrix("lm_head.weight", [v, h])
        } else if config.tieWordEmbeddings ?? true {
            lmHead = try taker.convert(embedTokens, savingAs: "lm_head.weight")
            tied = true
        } else {
            throw .missingTensor(file: taker.location, name: "lm_head.weight")
        }
        try taker.finish()
        return (GemmaWeights(embedTokens: embedTokens, layers: layers, finalNorm: finalNorm, lmHead: lmHead), tied)
    }
}
