import Foundation
import Testing
import KataribeApp
import KataribeCheckpoint
import KataribeTestSupport
import KataribeTokenizers

/// The tokenizers embedded in the GGUF fixtures (tools/fixtures/make_gguf_fixtures.py: byte-level
/// BPE trained for the llama and qwen files, a SentencePiece BPE with byte fallback for the gemma
/// ones, written into the files by llama.cpp's converter) give the ids transformers gives when it
/// builds its tokenizer from the same file (`AutoTokenizer.from_pretrained(dir, gguf_file:)`),
/// with and without special tokens, for Japanese, English, code, emoji, whitespace runs and
/// text spelling special tokens. (llama.cpp's llama-tokenize gives the same ids for all of them.)
@Suite("GGUF fixtures: tokenizer ids equal transformers'")
struct GGUFTokenizerFixtureTests {
    struct Reference: Decodable {
        struct Case: Decodable {
            let text: String
            let withSpecial: [Int]
            let withoutSpecial: [Int]
            /// transformers' `decode(withoutSpecial)`.
            let decoded: String
            enum CodingKeys: String, CodingKey {
                case text, decoded
                case withSpecial = "with_special"
                case withoutSpecial = "without_special"
            }
        }
        let tokenizer: [Case]
    }

    /// One file per tokenizer kind, and the files whose converter path differs (f32/f16/bf16
    /// outputs, llama-quantize outputs): the vocabulary must survive each.
    static let fixtures = ["llama/Q8_0", "llama/Q4_K_M", "qwen2/BF16", "qwen3/F32", "qwen3/Q5_K",
                           "gemma3/Q4_K_M", "gemma2/Q8_0"]

    @Test("ids for every text, with and without special tokens", arguments: fixtures)
    func ids(name: String) throws {
        let reference = try JSONDecoder().decode(
            Reference.self, from: Data(contentsOf: TestPaths.fixture("gguf-models/\(name).reference.json")))
        let file = try GGUFFile.read(url: TestPaths.fixture("gguf-models/\(name).gguf"))
        let tokenizer = try GGUFTokenizerBuilder.make(from: file)
        for test in reference.tokenizer {
            #expect(tokenizer.encode(test.text, addSpecialTokens: true) == test.withSpecial,
                    "\(name) with special tokens: \(test.text.debugDescription)")
            #expect(tokenizer.encode(test.text, addSpecialTokens: false) == test.withoutSpecial,
                    "\(name) without special tokens: \(test.text.debugDescription)")
        }
    }

    @Test("the chat templates saved with the tokenizers are in the files", arguments: fixtures)
    func chatTemplate(name: String) throws {
        let metadata = try GGUFTokenizerMetadata(GGUFFile.read(url: TestPaths.fixture("gguf-models/\(name).gguf")))
        let marker = name.hasPrefix("qwen") ? "<|im_start|>" : name.hasPrefix("gemma") ? "<start_of_turn>" : nil
        if let marker {
            #expect(metadata.chatTemplate?.contains(marker) == true, "\(name): \(metadata.chatTemplate ?? "none")")
        } else {
            #expect(metadata.chatTemplate == nil, "\(name)")  // the llama tokenizer was saved without one
        }
    }

    @Test("decoding the ids gives transformers' text", arguments: fixtures)
    func roundTrip(name: String) throws {
        let reference = try JSONDecoder().decode(
            Reference.self, from: Data(contentsOf: TestPaths.fixture("gguf-models/\(name).reference.json")))
        let tokenizer = try GGUFTokenizerBuilder.make(from: GGUFFile.read(url: TestPaths.fixture("gguf-models/\(name).gguf")))
        for test in reference.tokenizer {
            #expect(tokenizer.decode(test.withoutSpecial, skipSpecialTokens: false) == test.decoded,
                    "\(name): \(test.text.debugDescription)")
        }
    }
}
