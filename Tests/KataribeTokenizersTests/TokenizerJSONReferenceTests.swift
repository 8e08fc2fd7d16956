import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeTokenizers

private let tokenizerFiles: [(directory: String, file: String)] = [
    ("synth-opencalm-style-bytelevel-bpe-hf", "tokenizer.json"),
    ("gpt-neox-20b-hf", "20B_tokenizer.json"),
    ("llmjp-v2.2-code10k-hf", "tokenizer.json"),
]

@Suite("tokenizer.json files match the tokenizers library", .enabled(if: TestPaths.sharedDirectory != nil))
struct TokenizerJSONReferenceTests {
    @Test("ids, pieces, normalized text and decoded text of every reference string", arguments: tokenizerFiles)
    func referenceRows(file: (directory: String, file: String)) throws {
        let directory = try #require(TestPaths.shared("tokenizers/\(file.directory)"))
        let tokenizer = try HFTokenizer(contentsOf: directory.appendingPathComponent(file.file))
        let rows = try ReferenceData.rows(directory.appendingPathComponent("reference.jsonl"))
        #expect(rows.count == 375)
        var log = MismatchLog()
        for row in rows {
            let encoded = tokenizer.encodeWithPieces(row.text, addSpecialTokens: false)
            if encoded.ids != row.ids { log.record("ids \(ReferenceData.describe(row.text)): \(encoded.ids.prefix(12)) vs \(row.ids.prefix(12))") }
            if tokenizer.encode(row.text, addSpecialTokens: false) != row.ids { log.record("encode() \(ReferenceData.describe(row.text))") }
            if !ReferenceData.same(encoded.pieces, row.pieces) {
                log.record("pieces \(ReferenceData.describe(row.text)): \(encoded.pieces.prefix(8)) vs \(row.pieces.prefix(8))")
            }
            if let expected = row.idsWithSpecial, tokenizer.encode(row.text, addSpecialTokens: true) != expected {
                log.record("ids_with_special \(ReferenceData.describe(row.text))")
            }
            if let normalized = row.normalized, !ReferenceData.same(tokenizer.normalize(row.text), normalized) {
                log.record("normalized \(ReferenceData.describe(row.text)): \(ReferenceData.describe(tokenizer.normalize(row.text))) vs \(ReferenceData.describe(normalized))")
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
}
