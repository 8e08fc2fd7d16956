import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeTokenizers

/// The tokenizers of the chat-model families (tools/tokenizers/make_fixtures.py): small stand-ins in the
/// real models' file layout, each folder with the `config.json` and `tokenizer_config.json` that make
/// transformers 5 choose the same tokenizer class as for the real model, against `AutoTokenizer`'s ids
/// on Japanese, English, code, emoji, whitespace runs and the families' own chat markup.
@Suite("Chat-model tokenizers (Llama 3, Qwen2.5, Gemma, llm-jp-3, Llama 2) match transformers")
struct ChatModelTokenizerTests {
    /// folder, the real models it stands in for.
    static let families: [(folder: String, models: String)] = [
        ("llama3-style-bpe", "Llama-3.1-Swallow, Llama-3-ELYZA-JP (PreTrainedTokenizerFast)"),
        ("qwen2-style-bpe", "Qwen2.5, TinySwallow (Qwen2Tokenizer)"),
        ("gemma-style-bpe", "gemma-2, gemma-3 (GemmaTokenizer)"),
        ("llmjp3-style-unigram", "llm-jp-3 (PreTrainedTokenizerFast, add_bos_token)"),
        ("llama-style-bpe", "Llama 2-style SentencePiece BPE (LlamaTokenizer, legacy false)"),
    ]

    @Test("AutoTokenizer ids, ids with special tokens and decoded text", arguments: families)
    func transformersReference(family: (folder: String, models: String)) throws {
        let folder = TestPaths.fixture("tokenizers/\(family.folder)")
        let tokenizer = try AutoTokenizer.load(from: folder, preference: .fast)
        try Self.check(tokenizer, against: folder.appendingPathComponent("reference_transformers.jsonl"))
    }

    /// transformers 5 keeps only the vocabulary, merges and post-processor of a Qwen2Tokenizer's or
    /// GemmaTokenizer's tokenizer.json and builds the rest from the class, so a file whose pipeline
    /// differs still tokenizes as the class does (Qwen3.5's files, for one, carry a pattern with \p{M}
    /// that Qwen2Tokenizer drops). The variants here drop Qwen's NFC and Gemma's space normalizer;
    /// make_fixtures.py checks that transformers gives the committed ids for both.
    @Test("the tokenizer class, not tokenizer.json, decides the pipeline of Qwen2Tokenizer and GemmaTokenizer",
          arguments: ["qwen2-style-bpe", "gemma-style-bpe"])
    func classRebuildsPipeline(folder name: String) throws {
        let original = TestPaths.fixture("tokenizers/\(name)")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-\(name)-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: original, to: scratch)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let file = scratch.appendingPathComponent("tokenizer.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        if name.hasPrefix("qwen2") {
            let qwen35 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
            var pre = try #require(json["pre_tokenizer"] as? [String: Any])
            var parts = try #require(pre["pretokenizers"] as? [[String: Any]])
            parts[0]["pattern"] = ["Regex": qwen35]
            pre["pretokenizers"] = parts
            json["pre_tokenizer"] = pre
            json["normalizer"] = NSNull()
        } else {
            json["normalizer"] = NSNull()
            json["pre_tokenizer"] = ["type": "Split", "pattern": ["String": " "], "behavior": "MergedWithPrevious", "invert": false]
        }
        try JSONSerialization.data(withJSONObject: json).write(to: file)

        // The plain library follows the edited file, so the variant really tokenizes differently...
        let library = try HFTokenizer(contentsOf: file)
        let rows = try ReferenceData.rows(original.appendingPathComponent("reference_transformers.jsonl"))
        #expect(rows.contains { library.encode($0.text, addSpecialTokens: false) != $0.ids })
        // ...and the model folder still gives transformers' ids.
        try Self.check(try AutoTokenizer.load(from: scratch, preference: .fast),
                       against: original.appendingPathComponent("reference_transformers.jsonl"))
    }

    @Test("special tokens: chat markup is matched whole, and ids of the roles are the real layout's")
    func specialTokens() throws {
        let qwen = try AutoTokenizer.load(from: TestPaths.fixture("tokenizers/qwen2-style-bpe"))
        let imStart = try #require(qwen.tokenToID("<|im_start|>"))
        #expect(qwen.tokenToID("<|endoftext|>") == 1500 && imStart == 1501 && qwen.tokenToID("<|im_end|>") == 1502)
        #expect(qwen.encode("<|im_start|>user\n", addSpecialTokens: true).first == imStart)
        // <tool_call> is an added token but not a special one: skip_special_tokens keeps it.
        let toolCall = try #require(qwen.tokenToID("<tool_call>"))
        #expect(qwen.decode([toolCall, imStart], skipSpecialTokens: true) == "<tool_call>")

        let gemma = try AutoTokenizer.load(from: TestPaths.fixture("tokenizers/gemma-style-bpe"))
        let bos = try #require(gemma.tokenToID("<bos>"))
        #expect(gemma.encode("こんにちは", addSpecialTokens: true).first == bos)
        #expect(gemma.encode("<start_of_turn>", addSpecialTokens: false) == [try #require(gemma.tokenToID("<start_of_turn>"))])
        // The byte pieces are vocabulary entries, not added tokens: typed out they are ordinary text.
        #expect(gemma.encode("<0x41>", addSpecialTokens: false).count > 1)

        let llama3 = try AutoTokenizer.load(from: TestPaths.fixture("tokenizers/llama3-style-bpe"))
        #expect(llama3.encode("<|eot_id|>", addSpecialTokens: true) == [try #require(llama3.tokenToID("<|begin_of_text|>")),
                                                                         try #require(llama3.tokenToID("<|eot_id|>"))])

        let llmjp = try AutoTokenizer.load(from: TestPaths.fixture("tokenizers/llmjp3-style-unigram"))
        #expect(llmjp.tokenToID("<unk>") == 0 && llmjp.tokenToID("<s>") == 1 && llmjp.tokenToID("</s>") == 2)
        #expect(llmjp.encode("自然言語処理", addSpecialTokens: true).first == 1)
    }

    static func check(_ tokenizer: any Tokenizer, against reference: URL) throws {
        let rows = try ReferenceData.rows(reference)
        #expect(rows.count > 250)
        var log = MismatchLog()
        for row in rows {
            let ids = tokenizer.encode(row.text, addSpecialTokens: false)
            if ids != row.ids { log.record("ids \(ReferenceData.describe(row.text)): \(ids.prefix(12)) vs \(row.ids.prefix(12))") }
            if let expected = row.idsWithSpecial, tokenizer.encode(row.text, addSpecialTokens: true) != expected {
                log.record("ids_with_special \(ReferenceData.describe(row.text)): \(tokenizer.encode(row.text, addSpecialTokens: true).prefix(12)) vs \(expected.prefix(12))")
            }
            let decoded = tokenizer.decode(row.ids, skipSpecialTokens: false)
            if !ReferenceData.same(decoded, row.decoded) {
                log.record("decoded \(ReferenceData.describe(row.text)): \(ReferenceData.describe(decoded)) vs \(ReferenceData.describe(row.decoded))")
            }
            if let expected = row.decodedSkipSpecial, !ReferenceData.same(tokenizer.decode(row.ids, skipSpecialTokens: true), expected) {
                log.record("decoded_skip_special \(ReferenceData.describe(row.text)): \(ReferenceData.describe(tokenizer.decode(row.ids, skipSpecialTokens: true))) vs \(ReferenceData.describe(expected))")
            }
        }
        #expect(log.count == 0, "\(log.summary)")
    }
}
