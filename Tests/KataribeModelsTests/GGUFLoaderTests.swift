import Foundation
import Testing
import KataribeCheckpoint
import KataribeModels
import KataribeTensor

/// What the GGUF loader refuses, with the file and the tensor or key named as the file names it.
/// The files are tiny synthetic Llama models written by `GGUFWriter` (no real weights needed).
@Suite("GGUF models are loaded strictly")
struct GGUFLoaderTests {
    /// A two-head, one-layer `llama` GGUF with 64 hidden units and 32 tokens, all F32.
    static func llamaFile(architecture: String = "llama", dropping: Set<String> = [], extra: [String: [Int]] = [:],
                          reshape: [String: [Int]] = [:], metadata: [(String, GGUFValue)] = []) -> GGUFWriter {
        var writer = GGUFWriter()
        writer.add("general.architecture", .string(architecture))
        for (key, value) in [("block_count", 1), ("embedding_length", 64), ("feed_forward_length", 128),
                             ("attention.head_count", 2), ("attention.head_count_kv", 2), ("context_length", 64),
                             ("rope.dimension_count", 32)] {
            writer.add("\(architecture).\(key)", .uint32(UInt32(value)))
        }
        writer.add("\(architecture).attention.layer_norm_rms_epsilon", .float32(1e-5))
        writer.add("\(architecture).vocab_size", .uint32(32))
        for (key, value) in metadata { writer.add(key, value) }
        var tensors: [(String, [Int])] = [("token_embd.weight", [32, 64]), ("output_norm.weight", [64]),
                                          ("blk.0.attn_norm.weight", [64]), ("blk.0.ffn_norm.weight", [64]),
                                          ("blk.0.attn_q.weight", [64, 64]), ("blk.0.attn_k.weight", [64, 64]),
                                          ("blk.0.attn_v.weight", [64, 64]), ("blk.0.attn_output.weight", [64, 64]),
                                          ("blk.0.ffn_gate.weight", [128, 64]), ("blk.0.ffn_up.weight", [128, 64]),
                                          ("blk.0.ffn_down.weight", [64, 128])]
        tensors += extra.map { ($0.key, $0.value) }
        for (name, shape) in tensors where !dropping.contains(name) {
            let shape = reshape[name] ?? shape
            let count = shape.reduce(1, *)
            writer.addTensor(name, floats: (0..<count).map { Float(($0 * 7) % 13) / 50 - 0.1 }, shape: shape)
        }
        return writer
    }

    static func load(_ writer: GGUFWriter) throws(ModelError) -> any TransformerModel {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-gguf-\(UUID().uuidString).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        do { try writer.write(to: url) } catch { Issue.record("cannot write \(url.path): \(error)") }
        return try ModelLoader.load(gguf: url, options: LoadOptions(parallelism: .serial))
    }

    @Test("a complete file loads, tied to its embedding when output.weight is absent, and runs")
    func completeFileLoads() throws {
        let model = try Self.load(Self.llamaFile())
        #expect(model.shape.modelType == "llama")
        #expect(model.hasTiedEmbeddings)
        #expect(model.format == "gguf v3")
        let logits = try model.makeSession().append([1, 2, 3])
        #expect(logits.count == 32 && logits.allSatisfy(\.isFinite))
    }

    @Test("a missing tensor is named as the file names it")
    func missingTensor() {
        #expect(throws: ModelError.self) { try Self.load(Self.llamaFile(dropping: ["blk.0.ffn_up.weight"])) }
        do {
            _ = try Self.load(Self.llamaFile(dropping: ["blk.0.ffn_up.weight"]))
        } catch {
            #expect(error.description.contains("missing tensor"))
        }
    }

    @Test("a tensor the architecture does not read is an error, not ignored")
    func unknownTensor() {
        do {
            _ = try Self.load(Self.llamaFile(extra: ["blk.0.mystery.weight": [64]]))
            Issue.record("loaded a file with an unknown tensor")
        } catch {
            guard case .unusedTensors(_, let names) = error else { Issue.record("\(error)"); return }
            #expect(names == ["blk.0.mystery.weight"])
        }
    }

    @Test("a misshapen tensor is named as the file names it")
    func misshapenTensor() {
        do {
            _ = try Self.load(Self.llamaFile(reshape: ["blk.0.attn_v.weight": [32, 64]]))
            Issue.record("loaded a misshapen tensor")
        } catch {
            guard case .shapeMismatch(_, let name, _, _) = error else { Issue.record("\(error)"); return }
            #expect(name == "blk.0.attn_v.weight")
        }
    }

    @Test("an architecture without a mapping is refused with the supported list")
    func unknownArchitecture() {
        do {
            _ = try Self.load(Self.llamaFile(architecture: "mamba"))
            Issue.record("loaded a mamba file")
        } catch {
            #expect(error.description.contains("mamba"))
            #expect(error.description.contains("gemma3"))
        }
    }

    @Test("per-layer arrays in place of a number are refused, not misread")
    func arrayWhereNumberExpected() {
        var writer = Self.llamaFile()
        writer.metadata.removeAll { $0.key == "llama.attention.head_count_kv" }
        writer.add("llama.attention.head_count_kv", .array(.uint32([2])))
        do {
            _ = try Self.load(writer)
            Issue.record("loaded a file whose head_count_kv is an array")
        } catch {
            #expect(error.description.contains("llama.attention.head_count_kv"))
        }
    }

    @Test("metadata keys transformers does not read are ignored, as transformers ignores them")
    func unknownKeysIgnored() throws {
        _ = try Self.load(Self.llamaFile(metadata: [("llama.some_future_key", .uint32(1))]))
    }

    @Test("llama.cpp's per-head interleaving of q/k rows is undone: row h·d + t·d/2 + i comes from h·d + 2i + t")
    func deinterleaving() {
        // Two heads of 4 rows: the converter wrote [0 2 1 3] per head (pairs interleaved).
        #expect(ModelLoader.deinterleavedRowsForTesting(rows: 8, groups: 2) == [0, 2, 1, 3, 4, 6, 5, 7])
    }
}
