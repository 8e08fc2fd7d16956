/// GGUF files of GPT-NeoX (`gptneox`: open-calm, pythia; rinna's as far as llama.cpp's converter
/// writes them). transformers has no GGUF mapping for this architecture, so the rules follow
/// llama.cpp's converter (`GPTNeoXModel` in convert_hf_to_gguf.py) backwards, onto the config keys
/// and checkpoint names the safetensors loader reads:
///
/// * `rope.dimension_count` is `int(rotary_pct · head_dim)`; `rotary_pct` is that over head_dim
///   (exact for every fraction that gives a whole number of dimensions, which is all
///   transformers uses);
/// * `use_parallel_residual` and `attention.layer_norm_epsilon` map to their config keys;
///   `rope.freq_base` (not written by the converter, which loses a non-default
///   `rotary_emb_base`; llama.cpp then runs 10000) to `rotary_emb_base` when present;
/// * the fused `attn_qkv` weight and bias were regrouped from per head `[q, k, v]` into
///   `[all q; all k; all v]` and are put back;
/// * the output embedding is untied (`output.weight` present), as in every GPT-NeoX checkpoint.
extension GPTNeoXArchitecture: GGUFArchitecture {
    static func ggufMapping(architecture: String, name: String?) -> GGUFMapping? {
        guard architecture == "gptneox" else { return nil }
        let keys: [String: String] = [
            "context_length": "max_position_embeddings",
            "embedding_length": "hidden_size",
            "block_count": "num_hidden_layers",
            "feed_forward_length": "intermediate_size",
            "attention.head_count": "num_attention_heads",
            "attention.layer_norm_epsilon": "layer_norm_eps",
            "use_parallel_residual": "use_parallel_residual",
            "rope.freq_base": "rotary_emb_base",
            "rope.dimension_count": "rotary_ndims",
            "vocab_size": "vocab_size",
        ]
        let layers: [String: String] = [
            "attn_norm": "input_layernorm",
            "attn_qkv": "attention.query_key_value",
            "attn_output": "attention.dense",
            "ffn_norm": "post_attention_layernorm",
            "ffn_up": "mlp.dense_h_to_4h",
            "ffn_down": "mlp.dense_4h_to_h",
        ]
        return GGUFMapping(
            modelType: "gpt_neox", configKeys: keys,
            // transformers' GPTNeoXConfig defaults for what the converter leaves out.
            configDefaults: ["rotary_emb_base": 10_000],
            layerTensors: layers, groupedQueryKeyValue: "attn_qkv",
            globals: ["token_embd": "gpt_neox.embed_in", "output_norm": "gpt_neox.final_layer_norm", "output": "embed_out"],
            layerPrefix: "gpt_neox.layers.",
            deriveConfig: { config in
                // The converter writes llama.cpp's defaults for these: GELU (erf), parallel residual.
                if config["hidden_act"] == nil { config["hidden_act"] = "gelu" }
                if config["use_parallel_residual"] == nil { config["use_parallel_residual"] = true }
                guard let hidden = config["hidden_size"] as? Int, let heads = config["num_attention_heads"] as? Int,
                      heads > 0, hidden % heads == 0, hidden > 0 else { return }
                let headDimension = hidden / heads
                // llama.cpp rotates the whole head when the count is absent.
                let dimensions = config.removeValue(forKey: "rotary_ndims") as? Int ?? headDimension
                // The fraction whose int(head_dim · fraction) is `dimensions` again (d / head_dim
                // times head_dim can round just below d). Validation refuses one outside (0, 1] or
                // an odd count.
                var fraction = Double(dimensions) / Double(headDimension)
                while fraction.isFinite, Int(exactly: (Double(headDimension) * fraction).rounded(.down)).map({ $0 < dimensions }) ?? false {
                    fraction = fraction.nextUp
                }
                config["rotary_pct"] = fraction
            })
    }
}
