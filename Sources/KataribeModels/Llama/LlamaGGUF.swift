/// GGUF files of the Llama family: `llama` (and Mistral written as `llama`), `qwen2`, `qwen3`.
extension LlamaArchitecture: GGUFArchitecture {
    static func ggufMapping(architecture: String, name: String?) -> GGUFMapping? {
        var layers = GGUFMapping.attentionAndMLPTensors
        layers["ffn_norm"] = "post_attention_layernorm"
        var keys = GGUFMapping.commonConfigKeys
        switch architecture {
        case "llama":
            // transformers reads head_dim from the rotary dimension for Llama and Mistral only.
            keys["rope.dimension_count"] = "head_dim"
            let isMistral = name?.contains("mistral") == true
            var mapping = GGUFMapping(modelType: isMistral ? "mistral" : "llama", configKeys: keys, layerTensors: layers,
                                      interleavedQueryKey: true)
            // transformers drops this tensor and runs Llama 3.x GGUFs with plain RoPE; Kataribe
            // applies it, as llama.cpp does and as the original checkpoint's llama3 rope_scaling does.
            mapping.ropeFrequencyFactorsTensor = "rope_freqs.weight"
            return mapping
        case "qwen2":
            return GGUFMapping(modelType: "qwen2", configKeys: keys, layerTensors: layers)
        case "qwen3":
            // Qwen3's head_dim is not hidden/heads; llama.cpp writes it as the key length.
            keys["attention.key_length"] = "head_dim"
            return GGUFMapping(modelType: "qwen3", configKeys: keys, layerTensors: layers)
        default:
            return nil
        }
    }
}
