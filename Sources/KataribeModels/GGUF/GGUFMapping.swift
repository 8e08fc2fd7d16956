import Foundation
import KataribeCheckpoint
import KataribeTensor

/// How one architecture's GGUF files map onto the config.json keys and checkpoint names its
/// safetensors loader reads, so a GGUF model runs through the same config, weight names and
/// forward pass. The rules mirror transformers' GGUF loader (`GGUF_CONFIG_MAPPING` and its tensor
/// processors), the reference the parity tests compare with.
struct GGUFMapping: Sendable {
    /// config.json `model_type` of the synthesized config.
    var modelType: String
    /// Metadata keys after the `<architecture>.` prefix → config.json keys.
    var configKeys: [String: String]
    /// Config values transformers' config class would default to and llama.cpp's converter does
    /// not write, set explicitly so the synthesized config does not depend on Kataribe's defaults.
    var configDefaults: [String: Double] = [:]
    /// `blk.N.<gguf name>` → `model.layers.N.<checkpoint name>` (without `.weight`/`.bias`).
    var layerTensors: [String: String]
    /// llama.cpp's converter interleaves the rows of each head of q and k for its rotary layout
    /// (Llama and Mistral only); the checkpoint order is restored on load.
    var interleavedQueryKey = false
    /// Gemma's norms are stored as 1 + w by llama.cpp's converter; transformers subtracts one.
    var normsStoredPlusOne = false
    /// Llama 3's rope scaling as llama.cpp's converter writes it: per-frequency divisors in a
    /// `rope_freqs.weight` tensor (read into the config's rope settings, not taken as a weight).
    var ropeFrequencyFactorsTensor: String? = nil
    /// GPT-NeoX's fused `query_key_value` is per head `[q, k, v]` in the checkpoint; llama.cpp's
    /// converter writes it (weight rows and bias) as `[all q; all k; all v]`, the order restored on
    /// load. Names the GGUF tensor (`attn_qkv`) this applies to.
    var groupedQueryKeyValue: String? = nil
    /// Names outside the layers (GGUF stem → checkpoint stem).
    var globals: [String: String] = GGUFMapping.globalTensors
    /// What a layer's checkpoint names start with (followed by the layer number and a dot).
    var layerPrefix = "model.layers."
    /// Config values computed from others once the metadata is in (e.g. a rotary fraction from the
    /// rotary dimension count), for keys the config has no direct GGUF counterpart of.
    var deriveConfig: @Sendable (inout [String: Any]) -> Void = { _ in }

    /// Keys every decoder architecture shares (llama.cpp writes them for all of them).
    static let commonConfigKeys: [String: String] = [
        "context_length": "max_position_embeddings",
        "block_count": "num_hidden_layers",
        "feed_forward_length": "intermediate_size",
        "embedding_length": "hidden_size",
        "rope.freq_base": "rope_theta",
        "attention.head_count": "num_attention_heads",
        "attention.head_count_kv": "num_key_value_heads",
        "attention.layer_norm_rms_epsilon": "rms_norm_eps",
        "vocab_size": "vocab_size",
    ]

    /// Per-layer names shared by the Llama and Gemma families.
    static let attentionAndMLPTensors: [String: String] = [
        "attn_norm": "input_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "attn_q_norm": "self_attn.q_norm",
        "attn_k_norm": "self_attn.k_norm",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    ]

    /// Names outside the layers.
    static let globalTensors: [String: String] = [
        "token_embd": "model.embed_tokens",
        "output_norm": "model.norm",
        "output": "lm_head",
    ]

    /// The checkpoint name of a GGUF tensor name, nil for names this architecture does not read.
    func checkpointName(_ ggufName: String) -> String? {
        let suffix: String
        var stem = ggufName
        if ggufName.hasSuffix(".weight") { suffix = ".weight" } else if ggufName.hasSuffix(".bias") { suffix = ".bias" } else { return nil }
        stem.removeLast(suffix.count)
        if let global = globals[stem] { return global + suffix }
        let parts = stem.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0, String(layer) == parts[1],
              let name = layerTensors[String(parts[2])] else { return nil }
        return "\(layerPrefix)\(layer).\(name)\(suffix)"
    }
}

/// The GGUF side of an architecture folder: which `general.architecture` values it runs.
protocol GGUFArchitecture: ModelArchitecture {
    /// The mapping for a file of `architecture` (`general.architecture`), nil when not this
    /// folder's. `name` is `general.name` (transformers tells Mistral from Llama by it).
    static func ggufMapping(architecture: String, name: String?) -> GGUFMapping?
}
