import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeTokenizers

/// The committed fixtures (tools/tokenizers/make_fixtures.py): every tokenizer code path is covered
/// on a fresh clone, against outputs of the Python libraries.
@Suite("Committed tokenizer fixtures match the Python libraries")
struct FixtureReferenceTests {
    static let libraryFixtures: [(folder: String, file: String)] = [
        ("opencalm-style-bpe", "tokenizer.json"),
        ("rinna-style-unigram", "spiece.model"),
        ("spm-bpe", "bpe.model"),
        ("custom-charsmap-unigram", "custom.model"),
        ("t5-style-unigram", "tokenizer.json"),
        ("llmjp-style-unigram", "tokenizer.json"),
        ("llama-style-bpe", "tokenizer.json"),
        ("llama3-style-bpe", "tokenizer.json"),
        ("qwen2-style-bpe", "tokenizer.json"),
        ("gemma-style-bpe", "tokenizer.json"),
        ("llmjp3-style-unigram", "tokenizer.json"),
        ("wordlevel-zoo", "tokenizer.json"),
    ]

    @Test("tokenizers/sentencepiece outputs for every fixture string", arguments: libraryFixtures)
    func libraryReference(fixture: (folder: String, file: String)) throws {
        let folder = TestPaths.fixture("tokenizers/\(fixture.folder)")
        let tokenizer = try AutoTokenizer.load(from: folder.appendingPathComponent(fixture.file))
        let rows = try ReferenceData.rows(folder.appendingPathComponent("reference.jsonl"))
        #expect(rows.count > 200)
        var log = MismatchLog()
        for row in rows {
            let encoded = tokenizer.encodeWithPieces(row.text, addSpecialTokens: false)
            if encoded.ids != row.ids { log.record("ids \(ReferenceData.describe(row.text)): \(encoded.ids.prefix(12)) vs \(row.ids.prefix(12))") }
            if tokenizer.encode(row.text, addSpecialTokens: false) != row.ids { log.record("encode() \(ReferenceData.describe(row.text))") }
            if !ReferenceData.same(encoded.pieces, row.pieces) {
                log.record("pieces \(ReferenceData.describe(row.text)): \(encoded.pieces.prefix(8)) vs \(row.pieces.prefix(8))")
            }
            if let expected = row.idsWithSpecial, tokenizer.encode(row.text, addSpecialTokens: true) != expected {
                log.record("ids_with_special \(ReferenceData.describe(row.text)): \(tokenizer.encode(row.text, addSpecialTokens: true).prefix(12)) vs \(expected.prefix(12))")
            }
            if let normalized = row.normalized {
                let actual = (tokenizer as? HFTokenizer)?.normalize(row.text) ?? (tokenizer as? SentencePieceTokenizer)?.normalize(row.text) ?? ""
                if !ReferenceData.same(actual, normalized) {
                    log.record("normalized \(ReferenceData.describe(row.text)): \(ReferenceData.describe(actual)) vs \(ReferenceData.describe(normalized))")
                }
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

    static let transformersFixtures: [(folder: String, reference: String, preference: TokenizerPreference)] = [
        ("opencalm-style-bpe", "reference_transformers.jsonl", .automatic),
        ("rinna-style-unigram", "reference_t5_slow.jsonl", .slow),
    ]

    @Test("transformers' AutoTokenizer on the model folders (fast open-calm style, slow rinna style)", arguments: transformersFixtures)
    func transformersReference(fixture: (folder: String, reference: String, preference: TokenizerPreference)) throws {
        let folder = TestPaths.fixture("tokenizers/\(fixture.folder)")
        let tokenizer = try AutoTokenizer.load(from: folder, preference: fixture.preference)
        let rows = try ReferenceData.rows(folder.appendingPathComponent(fixture.reference))
        #expect(rows.count > 200)
        var log = MismatchLog()
        for row in rows {
            let ids = tokenizer.encode(row.text, addSpecialTokens: false)
            if ids != row.ids { log.record("ids \(ReferenceData.describe(row.text)): \(ids.prefix(12)) vs \(row.ids.prefix(12))") }
            if let expected = row.idsWithSpecial, tokenizer.encode(row.text, addSpecialTokens: true) != expected {
                log.record("ids_with_special \(ReferenceData.describe(row.text))")
            }
            let decoded = tokenizer.decode(row.ids, skipSpecialTokens: false)
            if !ReferenceData.same(decoded, row.decoded) {
                log.record("decoded \(ReferenceData.describe(row.text)): \(ReferenceData.describe(decoded)) vs \(ReferenceData.describe(row.decoded))")
            }
            if let expected = row.decodedSkipSpecial, !ReferenceData.same(tokenizer.decode(row.ids, skipSpecialTokens: true), expected) {
                log.record("decoded_skip_special \(ReferenceData.describe(row.text))")
            }
        }
        #expect(log.count == 0, "\(log.summary)")
    }

    @Test("clean_up_tokenization_spaces in the slow T5 decode")
    func slowCleanUp() throws {
        let folder = TestPaths.fixture("tokenizers/rinna-style-unigram")
        var config = try TokenizerConfig(directory: folder)
        config.cleanUpTokenizationSpaces = true
        let tokenizer = T5SlowTokenizer(sentencePiece: try SentencePieceTokenizer(contentsOf: folder.appendingPathComponent("spiece.model")),
                                        config: config)
        let data = try Data(contentsOf: folder.appendingPathComponent("reference_t5_slow.jsonl"))
        var log = MismatchLog()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard case let .object(row) = try JSONParser.parse(Array(line)),
                  case let .array(idValues)? = row["ids"], case let .string(expected)? = row["decoded_clean_up"] else { continue }
            let ids = idValues.compactMap { value -> Int? in if case let .number(n) = value { return Int(n) } else { return nil } }
            let decoded = tokenizer.decode(ids, skipSpecialTokens: false)
            if !ReferenceData.same(decoded, expected) { log.record("\(ReferenceData.describe(decoded)) vs \(ReferenceData.describe(expected))") }
        }
        #expect(log.count == 0, "\(log.summary)")
    }
}
