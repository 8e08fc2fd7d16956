/// GGUF files of Gemma 2 and Gemma 3 (text): four norms per layer, stored by llama.cpp as 1 + w.
extension GemmaArchitecture: GGUFArchitecture {
    static func ggufMapping(architecture: String, name: String?) -> GGUFMapping? {
        guard architecture == "gemma2" || architecture == "gemma3" else { return nil }
        var layers = GGUFMapping.attentionAndMLPTensors
        layers["post_attention_norm"] = "post_attention_layernorm"
        layers["ffn_norm"] = "pre_feedforward_layernorm"
        layers["post_ffw_norm"] = "post_feedforward_layernorm"
        var keys = GGUFMapping.commonConfigKeys
        keys["attention.key_length"] = "head_dim"
        keys["attention.sliding_window"] = "sliding_window"
        // transformers' Gemma configs default query_pre_attn_scalar to 256 (not head_dim).
        var defaults: [String: Double] = ["query_pre_attn_scalar": 256]
        if architecture == "gemma2" {
            keys["attn_logit_softcapping"] = "attn_logit_softcapping"
            keys["final_logit_softcapping"] = "final_logit_softcapping"
            defaults["attn_logit_softcapping"] = 50.0
            defaults["final_logit_softcapping"] = 30.0
        }
        return GGUFMapping(modelType: architecture == "gemma3" ? "gemma3_text" : "gemma2", configKeys: keys,
                           configDefaults: defaults, layerTensors: layers, normsStoredPlusOne: true)
    }
}
