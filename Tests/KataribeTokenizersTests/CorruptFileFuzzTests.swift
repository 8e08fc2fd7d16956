import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeTokenizers

/// Random truncations and byte flips of real tokenizer files: loading either succeeds or throws a
/// `TokenizerError`, and whatever loads can encode and decode without crashing.
@Suite("Corrupt tokenizer files never crash")
struct CorruptFileFuzzTests {
    static let files = [
        "opencalm-style-bpe/tokenizer.json",
        "llmjp-style-unigram/tokenizer.json",
        "wordlevel-zoo/tokenizer.json",
        "rinna-style-unigram/spiece.model",
        "spm-bpe/bpe.model",
        "custom-charsmap-unigram/custom.model",
    ]

    private static let probes = ["", "吾輩は猫である。", "a  b\n\tｶﾞ😀<NL><|endoftext|>", "\u{0}\u{FFFD}𩸽"]

    private static func exercise(_ bytes: [UInt8], isJSON: Bool) {
        let tokenizer: any Tokenizer
        do {
            tokenizer = isJSON ? try HFTokenizer(jsonBytes: bytes, path: "fuzz") : try SentencePieceTokenizer(modelBytes: bytes, path: "fuzz")
        } catch {
            return  // a typed error is the expected outcome for most corruptions
        }
        for probe in probes {
            let encoded = tokenizer.encodeWithPieces(probe, addSpecialTokens: true)
            _ = tokenizer.decode(encoded.ids, skipSpecialTokens: false)
            _ = tokenizer.decode(encoded.ids + [-1, Int.max, 0, 1], skipSpecialTokens: true)
        }
    }

    @Test("truncations and byte flips", arguments: files)
    func fuzz(file: String) throws {
        let original = [UInt8](try Data(contentsOf: TestPaths.fixture("tokenizers/\(file)")))
        let isJSON = file.hasSuffix(".json")
        var generator = SeededGenerator(seed: UInt64(file.utf8.count) * 7919)
        // KATARIBE_FUZZ_TRIALS raises the count for a longer run.
        let trials = Int(ProcessInfo.processInfo.environment["KATARIBE_FUZZ_TRIALS"] ?? "") ?? 24
        for trial in 0..<trials {
            var bytes = original
            if trial % 3 == 0 {
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            } else {
                for _ in 0..<(trial % 3 == 1 ? 1 : 8) {
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[index] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            Self.exercise(bytes, isJSON: isJSON)
        }
    }
}
