import Foundation
import Testing
import KataribeCheckpoint
import KataribeTensor
import KataribeTestSupport
@testable import KataribeModels

@Suite("Checkpoint tensor names and shapes")
struct WeightMappingTests {
    @Test("a missing tensor is an error naming it")
    func missing() throws {
        let entries = try seqF32Entries().filter { $0.name != "gpt_neox.layers.1.mlp.dense_4h_to_h.bias" }
        let error = loadError(try makeModelDirectory(config: try seqF32Config(), tensors: entries))
        guard case .missingTensor(let file, "gpt_neox.layers.1.mlp.dense_4h_to_h.bias") = error else {
            Issue.record("got \(String(describing: error))"); return
        }
        #expect(file.hasSuffix("model.safetensors"))
    }

    @Test("an unexpected tensor is an error listing it")
    func unused() throws {
        let entries = try seqF32Entries() + [.init(name: "gpt_neox.layers.2.mlp.extra", floats: [1], shape: [1])]
        guard case .unusedTensors(let file, let names) = loadError(try makeModelDirectory(config: try seqF32Config(), tensors: entries)) else {
            Issue.record("expected unusedTensors"); return
        }
        #expect(names == ["gpt_neox.layers.2.mlp.extra"])
        #expect(file.hasSuffix("model.safetensors"))
    }

    @Test("a tensor of the wrong shape is an error with both shapes")
    func wrongShape() throws {
        var entries = try seqF32Entries()
        let index = try #require(entries.firstIndex { $0.name == "gpt_neox.final_layer_norm.weight" })
        entries[index] = .init(name: entries[index].name, floats: .init(repeating: 1, count: 35), shape: [35])
        guard case .shapeMismatch(_, "gpt_neox.final_layer_norm.weight", [36], [35]) =
            loadError(try makeModelDirectory(config: try seqF32Config(), tensors: entries)) else {
            Issue.record("expected shapeMismatch"); return
        }
    }

    @Test("integer tensors cannot be weights")
    func integerWeights() throws {
        var entries = try seqF32Entries()
        let index = try #require(entries.firstIndex { $0.name == "gpt_neox.final_layer_norm.bias" })
        entries[index] = .init(name: entries[index].name, dtype: .int32, shape: [36], bytes: .init(repeating: 0, count: 144))
        guard case .unsupportedTensorType(_, _, .int32) = loadError(try makeModelDirectory(config: try seqF32Config(), tensors: entries)) else {
            Issue.record("expected unsupportedTensorType"); return
        }
    }

    @Test("old buffers (attention.bias, masked_bias, rotary_emb.inv_freq) of any layer are skipped by name")
    func skippedBuffers() throws {
        let entries = try seqF32Entries() + [
            .init(name: "gpt_neox.layers.0.attention.bias", dtype: .bool, shape: [1, 1, 2, 2], bytes: [1, 0, 1, 1]),
            .init(name: "gpt_neox.layers.1.attention.masked_bias", floats: [-1e9], shape: []),
            .init(name: "gpt_neox.layers.1.attention.rotary_emb.inv_freq", floats: [1, 0.1], shape: [2]),
            .init(name: "gpt_neox.rotary_emb.inv_freq", floats: [1, 0.1], shape: [2]),
        ]
        _ = try ModelLoader.load(directory: try makeModelDirectory(config: try seqF32Config(), tensors: entries))
    }

    @Test("untied models need embed_out; tied ones reuse embed_in; a stored embed_out wins like in transformers")
    func outputEmbedding() throws {
        let withoutOut = try seqF32Entries().filter { $0.name != "embed_out.weight" }
        guard case .missingTensor(_, "embed_out.weight") = loadError(try makeModelDirectory(config: try seqF32Config(), tensors: withoutOut)) else {
            Issue.record("untied without embed_out"); return
        }
        let tiedConfig = try editedJSON(try seqF32Config(), ["tie_word_embeddings": true])
        let tied = try ModelLoader.loadGPTNeoX(directory: try makeModelDirectory(config: tiedConfig, tensors: withoutOut))
        #expect(tied.hasTiedEmbeddings)
        let storedWins = try ModelLoader.loadGPTNeoX(directory: try makeModelDirectory(config: tiedConfig, tensors: try seqF32Entries()))
        #expect(!storedWins.hasTiedEmbeddings)
        let reference = try Reference.load("seq-f32")
        #expect(maxAbsDifference(try storedWins.logits(for: reference.ids), reference.logits) < 1e-4)
    }

    @Test("a state dict saved from transformers 5 in memory (lm_head.weight) loads too")
    func lmHeadAlias() throws {
        let renamed = try seqF32Entries().map { entry -> SafetensorsWriter.Entry in
            var e = entry
            if e.name == "embed_out.weight" { e.name = "lm_head.weight" }
            return e
        }
        let model = try ModelLoader.load(directory: try makeModelDirectory(config: try seqF32Config(), tensors: renamed))
        let reference = try Reference.load("seq-f32")
        #expect(maxAbsDifference(try model.logits(for: reference.ids), reference.logits) < 1e-4)
    }

    @Test("checkpoint errors surface through the loader with the file name")
    func checkpointErrors() throws {
        let directory = try temporaryDirectory()
        try Data(try seqF32Config().utf8).write(to: directory.appendingPathComponent("config.json"))
        guard case .checkpoint(let error) = loadError(directory) else { Issue.record("no weights"); return }
        #expect(error.reason == .noCheckpointFiles)
        try Data([1, 2, 3]).write(to: directory.appendingPathComponent("pytorch_model.bin"))
        guard case .checkpoint(let bad) = loadError(directory) else { Issue.record("bad weights"); return }
        #expect(bad.file.hasSuffix("pytorch_model.bin"))
    }

    @Test("inspect reports architecture, parameter count, dtypes, files and memory")
    func inspect() throws {
        let info = try ModelLoader.inspect(directory: modelDirectory("seq-f32-sharded-bin"))
        let config = try ModelLoader.readConfig(directory: modelDirectory("seq-f32-sharded-bin"))
        #expect(info.modelType == "gpt_neox")
        #expect(info.parameterCount == config.parameterCount)
        #expect(info.parametersByDType == ["float32": config.parameterCount])
        #expect(info.weightBytes == 4 * config.parameterCount)
        #expect(info.files.map(\.name).sorted() == [
            "pytorch_model-00001-of-00003.bin", "pytorch_model-00002-of-00003.bin", "pytorch_model-00003-of-00003.bin",
            "pytorch_model.bin.index.json",
        ])
        #expect(info.format == "pytorch (sharded)")
        #expect(info.estimatedMemoryBytes > info.weightBytes + info.kvCacheBytes)
        let tied = try ModelLoader.inspect(directory: modelDirectory("seq-tied-bf16-safetensors"))
        #expect(tied.tiedEmbeddings)
        #expect(tied.parametersByDType.keys.sorted() == ["bfloat16"])
    }
}

