import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeTokenizers

private let sentencePieceModels: [(directory: String, file: String)] = [
    ("synth-rinna-style-unigram-spm", "synth-rinna-style-unigram.model"),
    ("synth-bpe-bytefallback-nmtnfkc-spm", "synth-bpe-bytefallback-nmtnfkc.model"),
    ("sentencepiece-test-ja-unigram-spm", "test_ja_model.model"),
    ("fugaku-cc100-ja30k-en20k-spm", "cc100_ja30K_en20K.symbolRemoved.vocab.reestimated.model"),
    ("llmjp-v2.2-code10k-spm", "code10K_en20K_ja30K.ver2.2.model"),
    ("llmjp-v3.1-100k-spm", "llm-jp-tokenizer-100k.ver3.1.model"),
    ("novelai-nerdstash-v1-spm", "novelai.model"),
]

@Suite("SentencePiece models match the sentencepiece library", .enabled(if: TestPaths.sharedDirectory != nil))
struct SentencePieceReferenceTests {
    @Test("ids, pieces, normalized text and decoded text of every reference string", arguments: sentencePieceModels)
    func referenceRows(model: (directory: String, file: String)) throws {
        let directory = try #require(TestPaths.shared("tokenizers/\(model.directory)"))
        let tokenizer = try SentencePieceTokenizer(contentsOf: directory.appendingPathComponent(model.file))
        let rows = try ReferenceData.rows(directory.appendingPathComponent("reference.jsonl"))
        #expect(rows.count == 375)
        var log = MismatchLog()
        for row in rows {
            let encoded = tokenizer.encodeWithPieces(row.text, addSpecialTokens: false)
            if encoded.ids != row.ids { log.record("ids \(ReferenceData.describe(row.text)): \(encoded.ids.prefix(12)) vs \(row.ids.prefix(12))") }
            if !ReferenceData.same(encoded.pieces, row.pieces) {
                log.record("pieces \(ReferenceData.describe(row.text)): \(encoded.pieces.prefix(8)) vs \(row.pieces.prefix(8))")
            }
            if let normalized = row.normalized, !ReferenceData.same(tokenizer.normalize(row.text), normalized) {
                log.record("normalized \(ReferenceData.describe(row.text)): \(ReferenceData.describe(tokenizer.normalize(row.text))) vs \(ReferenceData.describe(normalized))")
            }
            let decoded = tokenizer.decode(row.ids, skipSpecialTokens: false)
            if !ReferenceData.same(decoded, row.decoded) {
                log.record("decoded \(ReferenceData.describe(row.text)): \(ReferenceData.describe(decoded)) vs \(ReferenceData.describe(row.decoded))")
            }
        }
        #expect(log.count == 0, "\(log.summary)")
    }

    @Test("the self-test samples stored in the models pass", arguments: sentencePieceModels)
    func selfTestSamples(model: (directory: String, file: String)) throws {
        let directory = try #require(TestPaths.shared("tokenizers/\(model.directory)"))
        let tokenizer = try SentencePieceTokenizer(contentsOf: directory.appendingPathComponent(model.file))
        for sample in tokenizer.proto.selfTestSamples {
            let pieces = tokenizer.encodeWithPieces(UTF8Bytes.string(sample.input), addSpecialTokens: false).pieces
            #expect(ReferenceData.same(pieces.joined(separator: " "), UTF8Bytes.string(sample.expected)))
        }
    }
}
