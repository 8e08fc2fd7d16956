import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeModels

@Suite("config.json")
struct ConfigTests {
    @Test("the old spelling (rotary_pct, rotary_emb_base) as open-calm and rinna ship it")
    func oldSpelling() throws {
        let config = try ModelLoader.readConfig(directory: modelDirectory("seq-rot25-f16-bin"))
        #expect(config.rotaryPct == 0.25)
        #expect(config.ropeParameters == nil)
        #expect(config.rotaryFraction == 0.25)
        #expect(config.rotaryBase == 10_000)
        #expect(config.rotaryDimensions == 4)
        #expect(config.parallelResidual == false)
        #expect(config.torchDtype == "float16")
        #expect(config.eosTokenIDs == [0])
    }

    @Test("transformers 5's rope_parameters spelling resolves to the same settings")
    func newSpelling() throws {
        let config = try ModelLoader.readConfig(directory: modelDirectory("par-tied-f32-safetensors"))
        #expect(config.rotaryPct == nil)
        #expect(config.ropeParameters == .init(partialRotaryFactor: 0.25, ropeTheta: 10_000, ropeType: "default"))
        #expect(config.rotaryFraction == 0.25)
        #expect(config.rotaryBase == 10_000)
        #expect(config.tiedEmbeddings)
        #expect(config.dtype == "float32")
    }

    @Test("eos_token_id may be a list")
    func eosList() throws {
        let config = try ModelLoader.readConfig(directory: modelDirectory("seq-tied-bf16-safetensors"))
        #expect(config.eosTokenIDs == [1, 2])
        #expect(config.activationName == "gelu_fast")
    }

    @Test("a real open-calm-style config decodes, including integer rotary_emb_base")
    func openCalmStyle() throws {
        let json = #"""
        {"architectures":["GPTNeoXForCausalLM"],"bos_token_id":0,"eos_token_id":0,"hidden_act":"gelu",
         "hidden_size":768,"initializer_range":0.02,"intermediate_size":3072,"layer_norm_eps":1e-05,
         "max_position_embeddings":2048,"model_type":"gpt_neox","num_attention_heads":12,"num_hidden_layers":12,
         "rotary_emb_base":10000,"rotary_pct":1.0,"tie_word_embeddings":false,"torch_dtype":"float16",
         "transformers_version":"4.27.0.dev0","use_cache":true,"use_parallel_residual":false,"vocab_size":52096}
        """#
        let config = try JSONDecoder().decode(GPTNeoXConfig.self, from: Data(json.utf8))
        try config.validate(file: "config.json")
        #expect(config.rotaryDimensions == 64)
        #expect(config.parameterCount > 100_000_000)
    }

    @Test("round-trips through JSONEncoder with snake_case keys")
    func encodes() throws {
        let config = GPTNeoXConfig(hiddenSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 256, vocabSize: 100)
        let data = try JSONEncoder().encode(config)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"hidden_size\":64"))
        #expect(try JSONDecoder().decode(GPTNeoXConfig.self, from: data) == config)
    }

    func configError(_ edits: [String: Any?]) throws -> ModelError? {
        let directory = try makeModelDirectory(config: try editedJSON(try seqF32Config(), edits), tensors: [])
        do {
            _ = try ModelLoader.readConfig(directory: directory)
            return nil
        } catch {
            return error
        }
    }

    @Test("a missing required key names the key")
    func missingKey() throws {
        guard case .missingConfigKey(_, "hidden_size") = try configError(["hidden_size": nil]) else {
            Issue.record("expected missingConfigKey"); return
        }
        guard case .missingConfigKey(_, "model_type") = try configError(["model_type": nil]) else {
            Issue.record("expected missingConfigKey"); return
        }
    }

    @Test("an unknown model_type is refused by name")
    func unknownModelType() throws {
        guard case .unknownModelType(let file, "mamba") = try configError(["model_type": "mamba"]) else {
            Issue.record("expected unknownModelType"); return
        }
        #expect(file.hasSuffix("config.json"))
        let directory = try makeModelDirectory(config: try editedJSON(try seqF32Config(), ["model_type": "mamba"]), tensors: [])
        guard case .unknownModelType(_, "mamba") = loadError(directory) else {
            Issue.record("ModelLoader.load must refuse it too"); return
        }
    }

    @Test("absurd sizes are refused: zero, negative, indivisible, odd rotary, more memory than the machine has")
    func absurd() throws {
        for edits: [String: Any?] in [
            ["hidden_size": 0], ["num_hidden_layers": -3], ["vocab_size": 0], ["num_attention_heads": 5],
            ["rotary_pct": 0.0], ["rotary_pct": 1.5], ["layer_norm_eps": -1], ["max_position_embeddings": 0],
            ["hidden_size": 1_000_000_000], ["hidden_size": "wide"],
        ] {
            guard case .invalidConfigValue = try configError(edits) else {
                Issue.record("expected invalidConfigValue for \(edits)"); continue
            }
        }
        // 36 / 2 heads = 18 per head; 18 × 0.5 = 9 rotary dims cannot be paired.
        guard case .invalidConfigValue(_, "rotary_pct", _) = try configError(["rotary_pct": 0.5]) else {
            Issue.record("odd rotary dims"); return
        }
        let huge = try editedJSON(try seqF32Config(), ["hidden_size": 65_536, "num_attention_heads": 64,
                                                         "intermediate_size": 262_144, "num_hidden_layers": 2048])
        let config = try JSONDecoder().decode(GPTNeoXConfig.self, from: Data(huge.utf8))
        guard case .modelTooLarge = #expect(throws: ModelError.self, performing: { try config.validate(file: "c") }) else {
            Issue.record("expected modelTooLarge"); return
        }
    }

    @Test("unsupported activations and RoPE variants are typed errors")
    func unsupported() throws {
        guard case .unsupportedFeature = try configError(["hidden_act": "swiglu"]) else {
            Issue.record("activation"); return
        }
        guard case .unsupportedFeature = try configError(["rope_scaling": ["type": "linear", "factor": 2.0]]) else {
            Issue.record("rope scaling"); return
        }
    }

    @Test("a missing or unparsable config.json is a typed error")
    func unreadable() throws {
        let empty = try temporaryDirectory()
        guard case .configUnreadable(_, "file not found") = loadError(empty) else { Issue.record("missing"); return }
        try Data("{oops".utf8).write(to: empty.appendingPathComponent("config.json"))
        guard case .configUnreadable(_, "not valid JSON") = loadError(empty) else { Issue.record("bad JSON"); return }
    }
}
