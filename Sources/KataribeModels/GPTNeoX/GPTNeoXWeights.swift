import KataribeCheckpoint
import KataribeTensor

struct GPTNeoXLayerWeights: Sendable {
    let inputLayerNorm: LayerNorm
    let postAttentionLayerNorm: LayerNorm
    /// `[3 * hidden, hidden]`; output row block of head h is `[q | k | v]` of `head_dim` each.
    let queryKeyValue: LinearLayer
    let attentionDense: LinearLayer
    let mlpUp: LinearLayer
    let mlpDown: LinearLayer
}

/// All GPT-NeoX weights by their checkpoint names. This is the ONE place that knows the
/// checkpoint layout: every expected name and shape is listed here, anything missing, misshapen
/// or left over is an error, and the buffers older transformers saved are skipped by name.
struct GPTNeoXWeights: Sendable {
    let embedIn: WeightMatrix
    let layers: [GPTNeoXLayerWeights]
    let finalLayerNorm: LayerNorm
    let embedOut: WeightMatrix

    /// Causal-mask and rotary buffers that transformers < 4.3x saved with every layer; they are
    /// recomputed, never read (transformers ignores them the same way).
    static func isSkippedBuffer(_ name: String) -> Bool {
        name.hasSuffix(".attention.bias") || name.hasSuffix(".attention.masked_bias") || name.hasSuffix(".rotary_emb.inv_freq")
    }

    /// Takes every weight. With a requested format, the linear layers and the output embedding
    /// are converted to it; the input embedding only to float formats (it is only ever read a
    /// row at a time).
    static func take(_ taker: inout WeightTaker, config: GPTNeoXConfig) throws(ModelError) -> (GPTNeoXWeights, tied: Bool) {
        let h = config.hiddenSize, i = config.intermediateSize, v = config.vocabSize
        let bias = config.hasAttentionBias, eps = Float(config.layerNormEpsilon)

        let embedIn = try taker.matrix("gpt_neox.embed_in.weight", [v, h], convert: taker.format?.isQuantized == false)
        var layers: [GPTNeoXLayerWeights] = []
        for n in 0..<config.numHiddenLayers {
            let p = "gpt_neox.layers.\(n)."
            layers.append(GPTNeoXLayerWeights(
                inputLayerNorm: try taker.layerNorm(p + "input_layernorm", h, epsilon: eps),
                postAttentionLayerNorm: try taker.layerNorm(p + "post_attention_layernorm", h, epsilon: eps),
                queryKeyValue: try taker.linear(p + "attention.query_key_value", out: 3 * h, in: h, bias: bias),
                attentionDense: try taker.linear(p + "attention.dense", out: h, in: h, bias: bias),
                mlpUp: try taker.linear(p + "mlp.dense_h_to_4h", out: i, in: h, bias: true),
                mlpDown: try taker.linear(p + "mlp.dense_4h_to_h", out: h, in: i, bias: true)))
        }
        let finalLayerNorm = try taker.layerNorm("gpt_neox.final_layer_norm", h, epsilon: eps)

        // Like transformers: a stored output embedding wins even when the config says "tied";
        // without one, a tied model reuses embed_in. transformers 5 names it lm_head in memory,
        // so a state dict saved from it may use that name. (A saved quantized model stores the
        // quantized output embedding of a tied model as embed_out.weight.)
        let embedOut: WeightMatrix
        var tied = false
        if taker.has("embed_out.weight") {
            embedOut = try taker.matrix("embed_out.weight", [v, h])
        } else if taker.has("lm_head.weight") {
            embedOut = try taker.matrix("lm_head.weight", [v, h])
        } else if config.tiedEmbeddings {
            embedOut = try taker.convert(embedIn, savingAs: "embed_out.weight")
            tied = true
        } else {
            throw .missingTensor(file: taker.location, name: "embed_out.weight")
        }
        try taker.finish()
        return (GPTNeoXWeights(embedIn: embedIn, layers: layers, finalLayerNorm: finalLayerNorm, embedOut: embedOut), tied)
    }
}
