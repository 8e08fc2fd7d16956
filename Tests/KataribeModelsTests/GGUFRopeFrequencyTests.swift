import Foundation
import Testing
import KataribeCheckpoint
import KataribeModels
import KataribeTensor
import KataribeTestSupport

/// Llama 3.x GGUF files carry their rope scaling as a `rope_freqs.weight` tensor (per-frequency
/// divisors llama.cpp's converter computes from `rope_scaling`). transformers drops it; Kataribe
/// applies it, so such a file computes what the original checkpoint computes.
@Suite("GGUF rope_freqs: Llama 3 rope scaling from the file")
struct GGUFRopeFrequencyTests {
    static let fixture = TestPaths.fixture("architectures/llama-gqa-llama3rope")

    struct Reference: Decodable { let ids: [Int]; let logprobs: [[Double]] }

    /// The fixture's safetensors checkpoint written as llama.cpp's converter writes it: GGUF names,
    /// q/k rows interleaved per head, and `rope_freqs` from its llama3 rope_scaling (the converter's
    /// formula: 1 above the high-frequency wavelength, `factor` below the low one, smoothed between).
    static func ggufFile(withRopeFrequencies: Bool) throws -> URL {
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: fixture.appendingPathComponent("config.json"))) as? [String: Any])
        let tensors = try CheckpointLoader.load(directory: fixture)
        let heads = config["num_attention_heads"] as! Int, kvHeads = config["num_key_value_heads"] as! Int
        let headDim = config["head_dim"] as! Int, layers = config["num_hidden_layers"] as! Int
        var writer = GGUFWriter()
        writer.add("general.architecture", .string("llama"))
        for (key, configKey) in [("block_count", "num_hidden_layers"), ("embedding_length", "hidden_size"),
                                 ("feed_forward_length", "intermediate_size"), ("attention.head_count", "num_attention_heads"),
                                 ("attention.head_count_kv", "num_key_value_heads"), ("context_length", "max_position_embeddings"),
                                 ("vocab_size", "vocab_size")] {
            writer.add("llama.\(key)", .uint32(UInt32(config[configKey] as! Int)))
        }
        writer.add("llama.rope.dimension_count", .uint32(UInt32(headDim)))
        writer.add("llama.rope.freq_base", .float32(Float(config["rope_theta"] as! Double)))
        writer.add("llama.attention.layer_norm_rms_epsilon", .float32(Float(config["rms_norm_eps"] as! Double)))

        func add(_ ggufName: String, _ name: String, interleavedGroups groups: Int? = nil) throws {
            let tensor = try #require(tensors[name])
            var values = try #require(tensor.floats())
            if let groups {
                let columns = tensor.shape.count == 2 ? tensor.shape[1] : 1, perGroup = tensor.shape[0] / groups, half = perGroup / 2
                let original = values
                for h in 0..<groups { for i in 0..<half { for t in 0..<2 {
                    let to = h * perGroup + 2 * i + t, from = h * perGroup + t * half + i
                    for c in 0..<columns { values[to * columns + c] = original[from * columns + c] }
                } } }
            }
            writer.addTensor(ggufName, floats: values, shape: tensor.shape)
        }
        try add("token_embd.weight", "model.embed_tokens.weight")
        try add("output_norm.weight", "model.norm.weight")
        try add("output.weight", "lm_head.weight")
        for n in 0..<layers {
            let p = "model.layers.\(n)."
            try add("blk.\(n).attn_norm.weight", p + "input_layernorm.weight")
            try add("blk.\(n).ffn_norm.weight", p + "post_attention_layernorm.weight")
            try add("blk.\(n).attn_q.weight", p + "self_attn.q_proj.weight", interleavedGroups: heads)
            try add("blk.\(n).attn_k.weight", p + "self_attn.k_proj.weight", interleavedGroups: kvHeads)
            try add("blk.\(n).attn_v.weight", p + "self_attn.v_proj.weight")
            try add("blk.\(n).attn_output.weight", p + "self_attn.o_proj.weight")
            try add("blk.\(n).ffn_gate.weight", p + "mlp.gate_proj.weight")
            try add("blk.\(n).ffn_up.weight", p + "mlp.up_proj.weight")
            try add("blk.\(n).ffn_down.weight", p + "mlp.down_proj.weight")
        }
        if withRopeFrequencies {
            let scaling = try #require(config["rope_scaling"] as? [String: Any])
            let factor = scaling["factor"] as! Double, low = scaling["low_freq_factor"] as! Double
            let high = scaling["high_freq_factor"] as! Double, old = Double(scaling["original_max_position_embeddings"] as! Int)
            let base = Float(config["rope_theta"] as! Double)
            let factors: [Float] = stride(from: 0, to: headDim, by: 2).map { j in
                let frequency = Double(1 / powf(base, Float(j) / Float(headDim)))
                let wavelength = 2 * Double.pi / frequency
                if wavelength < old / high { return 1 }
                if wavelength > old / low { return Float(factor) }
                let smooth = (old / wavelength - low) / (high - low)
                return Float(1 / ((1 - smooth) / factor + smooth))
            }
            writer.addTensor("rope_freqs.weight", floats: factors, shape: [factors.count])
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-llama3rope-\(UUID().uuidString).gguf")
        try writer.write(to: url)
        return url
    }

    static func maximumDifference(_ url: URL) throws -> Double {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixture.appendingPathComponent("reference.json")))
        let model = try ModelLoader.load(gguf: url, options: LoadOptions(parallelism: .serial, kvCacheFormat: .float32))
        let rows = try model.makeSession().appendReturningAllLogits(reference.ids)
        var worst = 0.0
        for (row, expected) in zip(rows, reference.logprobs) {
            let maximum = Double(row.max() ?? 0)
            let logTotal = log(row.reduce(0.0) { $0 + exp(Double($1) - maximum) }) + maximum
            for (value, want) in zip(row, expected) { worst = max(worst, abs(Double(value) - logTotal - want)) }
        }
        return worst
    }

    @Test("with rope_freqs the GGUF model computes the original llama3-rope checkpoint's log-probs (transformers' reference)")
    func ropeFrequenciesApplied() throws {
        let url = try Self.ggufFile(withRopeFrequencies: true)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try Self.maximumDifference(url) < 1e-4)
    }

    @Test("without them the same weights do not: the tensor is what carries the scaling")
    func ropeFrequenciesMatter() throws {
        let url = try Self.ggufFile(withRopeFrequencies: false)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try Self.maximumDifference(url) > 1e-3)
    }
}
