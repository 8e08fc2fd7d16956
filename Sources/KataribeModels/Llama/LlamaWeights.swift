import KataribeCheckpoint
import KataribeTensor

struct LlamaLayerWeights: Sendable {
    let inputNorm: RMSNorm
    let postAttentionNorm: RMSNorm
    let query: LinearLayer      // [heads·d, H]
    let key: LinearLayer        // [kvHeads·d, H]
    let value: LinearLayer      // [kvHeads·d, H]
    let output: LinearLayer     // [H, heads·d]
    /// Qwen3: RMSNorm over each head of q and k, before rotary.
    let queryNorm: RMSNorm?
    let keyNorm: RMSNorm?
    let gate: LinearLayer       // [I, H]
    let up: LinearLayer         // [I, H]
    let down: LinearLayer       // [H, I]
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
        let h = config.hiddenSize, i = config.intermediateSize, v = config.vocabSize, d = config.headDimension
        let q = config.numAttentionHeads * d, kv = config.kvHeads * d, eps = Float(config.epsilon)
        let qkvBias = config.hasQKVBias, outBias = config.hasOutputBias, mlpBias = config.mlpBias ?? false

        let embedTokens = try taker.matrix("model.embed_tokens.weight", [v, h], convert: taker.format?.isQuantized == false)
        var layers: [LlamaLayerWeights] = []
        for n in 0..<config.numHiddenLayers {
            let p = "model.layers.\(n)."
            layers.append(LlamaLayerWeights(
                inputNorm: RMSNorm(weight: try taker.vector(p + "input_layernorm.weight", h), epsilon: eps),
                postAttentionNorm: RMSNorm(weight: try taker.vector(p + "post_attention_layernorm.weight", h), epsilon: eps),
                query: try taker.linear(p + "self_attn.q_proj", out: q, in: h, bias: qkvBias),
                key: try taker.linear(p + "self_attn.k_proj", out: kv, in: h, bias: qkvBias),
                value: try taker.linear(p + "self_attn.v_proj", out: kv, in: h, bias: qkvBias),
                output: try taker.linear(p + "self_attn.o_proj", out: h, in: q, bias: outBias),
                queryNorm: config.hasQKNorm ? RMSNorm(weight: try taker.vector(p + "self_attn.q_norm.weight", d), epsilon: eps) : nil,
                keyNorm: config.hasQKNorm ? RMSNorm(weight: try taker.vector(p + "self_attn.k_norm.weight", d), epsilon: eps) : nil,
                gate: try taker.linear(p + "mlp.gate_proj", out: i, in: h, bias: mlpBias),
                up: try taker.linear(p + "mlp.up_proj", out: i, in: h, bias: mlpBias),
                down: try taker.linear(p + "mlp.down_proj", out: h, in: i, bias: mlpBias)))
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
