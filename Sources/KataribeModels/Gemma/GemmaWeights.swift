import KataribeCheckpoint
import KataribeTensor

struct GemmaLayerWeights: Sendable {
    let inputNorm: RMSNorm
    let postAttentionNorm: RMSNorm
    let preFeedforwardNorm: RMSNorm
    let postFeedforwardNorm: RMSNorm
    let query: LinearLayer      // [heads·d, H]
    let key: LinearLayer        // [kvHeads·d, H]
    let value: LinearLayer      // [kvHeads·d, H]
    let output: LinearLayer     // [H, heads·d]
    /// Gemma 3: (1 + w) RMSNorm over each head of q and k, before rotary.
    let queryNorm: RMSNorm?
    let keyNorm: RMSNorm?
    let gate: LinearLayer       // [I, H]
    let up: LinearLayer         // [I, H]
    let down: LinearLayer       // [H, I]
}

/// Every Gemma 2/3 weight by its checkpoint name. Norm weights are stored as offsets from one.
struct GemmaWeights: Sendable {
    let embedTokens: WeightMatrix
    let layers: [GemmaLayerWeights]
    let finalNorm: RMSNorm
    let lmHead: WeightMatrix

    static func take(_ taker: inout WeightTaker, config: GemmaConfig) throws(ModelError) -> (GemmaWeights, tied: Bool) {
        let h = config.hiddenSize, i = config.intermediateSize, v = config.vocabSize, d = config.headDimension
        let q = config.numAttentionHeads * d, kv = config.kvHeads * d, eps = Float(config.epsilon)
        func norm(_ name: String, _ size: Int) throws(ModelError) -> RMSNorm {
            RMSNorm(weight: try taker.vector(name, size), epsilon: eps, unitOffset: true)
        }
        let embedTokens = try taker.matrix("model.embed_tokens.weight", [v, h], convert: taker.format?.isQuantized == false)
        var layers: [GemmaLayerWeights] = []
        for n in 0..<config.numHiddenLayers {
            let p = "model.layers.\(n)."
            layers.append(GemmaLayerWeights(
                inputNorm: try norm(p + "input_layernorm.weight", h),
                postAttentionNorm: try norm(p + "post_attention_layernorm.weight", h),
                preFeedforwardNorm: try norm(p + "pre_feedforward_layernorm.weight", h),
                postFeedforwardNorm: try norm(p + "post_feedforward_layernorm.weight", h),
                query: try taker.linear(p + "self_attn.q_proj", out: q, in: h, bias: false),
                key: try taker.linear(p + "self_attn.k_proj", out: kv, in: h, bias: false),
                value: try taker.linear(p + "self_attn.v_proj", out: kv, in: h, bias: false),
                output: try taker.linear(p + "self_attn.o_proj", out: h, in: q, bias: false),
                queryNorm: config.isGemma3 ? try norm(p + "self_attn.q_norm.weight", d) : nil,
                keyNorm: config.isGemma3 ? try norm(p + "self_attn.k_norm.weight", d) : nil,
                gate: try taker.linear(p + "mlp.gate_proj", out: i, in: h, bias: false),
                up: try taker.linear(p + "mlp.up_proj", out: i, in: h, bias: false),
                down: try taker.linear(p + "mlp.down_proj", out: h, in: i, bias: false)))
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
