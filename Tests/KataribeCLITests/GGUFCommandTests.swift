import Foundation
import KataribeTestSupport
import Testing

/// A tiny Llama converted by llama.cpp's convert_hf_to_gguf.py and quantized to Q4_K_M by its
/// llama-quantize (tools/fixtures/make_gguf_fixtures.py).
private let ggufModel = "Tests/Fixtures/gguf-models/llama/Q4_K_M.gguf"

@Suite("Commands take a GGUF file wherever a model is named", .timeLimit(.minutes(3)))
struct GGUFCommandTests {
    @Test("inspect --json shows the model and the file: metadata, tensor types, bits per weight, tokenizer")
    func inspect() async throws {
        let result = try await KataribeBinary.run(["inspect", "--model", ggufModel, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["model_type"] as? String == "llama")
        #expect((object["format"] as? String)?.hasPrefix("gguf v") == true)
        let gguf = try #require(object["gguf"] as? [String: Any])
        #expect(gguf["architecture"] as? String == "llama")
        let types = try #require(gguf["tensor_types"] as? [String: Any])
        #expect(types["Q4_K"] != nil)
        #expect((gguf["bits_per_weight"] as? Double).map { $0 > 4 && $0 < 8 } == true)
        #expect(gguf["tokenizer_model"] as? String == "gpt2")
    }

    @Test("tokenize --tokenizer FILE.gguf uses the embedded tokenizer")
    func tokenize() async throws {
        let result = try await KataribeBinary.run(["tokenize", "--tokenizer", ggufModel, "--text", "吾輩は猫である。"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("ids: ["))
    }

    @Test("generate runs a GGUF file with the settings it carries, announced on stderr")
    func generate() async throws {
        let result = try await KataribeBinary.run(["generate", "--model", ggufModel, "--prompt", "吾輩は", "--max-new-tokens", "4",
                                                   "--greedy"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("GGUF file's own tokenizer"))
    }

    @Test("a missing .gguf file is a clear error naming it, not a hub lookup")
    func missingFile() async throws {
        let result = try await KataribeBinary.run(["inspect", "--model", "./no-such-model.gguf"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no-such-model.gguf"))
    }

    @Test("a file that is not GGUF is refused with the reason")
    func notGGUF() async throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-not-\(UUID().uuidString).gguf")
        try Data("not a gguf file at all".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let result = try await KataribeBinary.run(["generate", "--model", url.path, "--prompt", "x"])
        #expect(result.status != 0)
        #expect(result.stderr.contains(url.lastPathComponent))
    }
}
