import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeTokenizers

@Suite("StreamingDetokenizer emits final text only")
struct StreamingDetokenizerTests {
    static let tokenizers: [(path: String, preference: TokenizerPreference)] = [
        ("opencalm-style-bpe", .automatic),
        ("rinna-style-unigram", .slow),
        ("rinna-style-unigram/spiece.model", .automatic),
        ("spm-bpe/bpe.model", .automatic),
        ("custom-charsmap-unigram/custom.model", .automatic),
        ("t5-style-unigram/tokenizer.json", .automatic),
        ("llmjp-style-unigram/tokenizer.json", .automatic),
        ("llama-style-bpe/tokenizer.json", .automatic),
        ("llama3-style-bpe/tokenizer.json", .automatic),
        ("wordlevel-zoo/tokenizer.json", .automatic),
    ]

    private static func load(_ entry: (path: String, preference: TokenizerPreference)) throws -> any Tokenizer {
        try AutoTokenizer.load(from: TestPaths.fixture("tokenizers/\(entry.path)"), preference: entry.preference)
    }

    /// Streams `ids` one at a time and returns the chunks.
    private static func stream(_ tokenizer: any Tokenizer, _ ids: [Int], skip: Bool) -> [String] {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skip)
        var chunks = ids.map { detokenizer.add($0) }
        chunks.append(detokenizer.finish())
        return chunks
    }

    @Test("the chunks of every fixture string add up to decode()", arguments: tokenizers)
    func chunksAddUpToDecode(entry: (path: String, preference: TokenizerPreference)) throws {
        let tokenizer = try Self.load(entry)
        let folder = entry.path.split(separator: "/").first.map(String.init) ?? entry.path
        let rows = try ReferenceData.rows(TestPaths.fixture("tokenizers/\(folder)/reference.jsonl"))
        var log = MismatchLog()
        for row in rows {
            let ids = tokenizer.encode(row.text, addSpecialTokens: true)
            for skip in [false, true] {
                let streamed = Self.stream(tokenizer, ids, skip: skip).joined()
                let decoded = tokenizer.decode(ids, skipSpecialTokens: skip)
                if !ReferenceData.same(streamed, decoded) {
                    log.record("\(ReferenceData.describe(row.text)) skip=\(skip): \(ReferenceData.describe(streamed)) vs \(ReferenceData.describe(decoded))")
                }
            }
        }
        #expect(log.count == 0, "\(log.summary)")
    }

    @Test("random id sequences (byte tokens, special tokens, anything) stream to decode()", arguments: tokenizers)
    func randomIDs(entry: (path: String, preference: TokenizerPreference)) throws {
        let tokenizer = try Self.load(entry)
        var generator = SeededGenerator(seed: 42)
        var log = MismatchLog()
        let specials = Array(tokenizer.specialTokens.all).sorted()
        for index in 0..<150 {
            let length = Int.random(in: 0...40, using: &generator)
            let ids = (0..<length).map { _ in
                if !specials.isEmpty && Int.random(in: 0..<6, using: &generator) == 0 {
                    return specials[Int.random(in: 0..<specials.count, using: &generator)]
                }
                return Int.random(in: 0..<tokenizer.vocabularySize, using: &generator)
            }
            let skip = index % 2 == 1
            let streamed = Self.stream(tokenizer, ids, skip: skip).joined()
            let decoded = tokenizer.decode(ids, skipSpecialTokens: skip)
            if !ReferenceData.same(streamed, decoded) {
                log.record("\(ids) skip=\(skip): \(ReferenceData.describe(streamed)) vs \(ReferenceData.describe(decoded))")
            }
        }
        #expect(log.count == 0, "\(log.summary)")
    }

    @Test("a character split over byte-fallback tokens is emitted whole, once complete")
    func byteFallbackCharacter() throws {
        let tokenizer = try AutoTokenizer.load(from: TestPaths.fixture("tokenizers/rinna-style-unigram/spiece.model"))
        let ids = tokenizer.encode("𩸽", addSpecialTokens: false)
        #expect(ids.count == 4)
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        let chunks = ids.map { detokenizer.add($0) }
        #expect(chunks == ["", "", "", "𩸽"])
        #expect(detokenizer.finish() == "")
    }

    @Test("byte-level pieces of one character are held until the character is complete")
    func byteLevelCharacter() throws {
        let tokenizer = try AutoTokenizer.load(from: TestPaths.fixture("tokenizers/opencalm-style-bpe/tokenizer.json"))
        let ids = tokenizer.encode("猫は🐱", addSpecialTokens: false)
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var chunks: [String] = []
        for id in ids {
            let chunk = detokenizer.add(id)
            #expect(!chunk.unicodeScalars.contains("\u{FFFD}"))
            chunks.append(chunk)
        }
        chunks.append(detokenizer.finish())
        #expect(ReferenceData.same(chunks.joined(), "猫は🐱"))
    }

    @Test("trailing whitespace is held back until something follows it")
    func trailingWhitespace() throws {
        let tokenizer = try AutoTokenizer.load(from: TestPaths.fixture("tokenizers/opencalm-style-bpe/tokenizer.json"))
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var text = ""
        for id in tokenizer.encode("a ", addSpecialTokens: false) { text += detokenizer.add(id) }
        #expect(text == "a")
        text += detokenizer.finish()
        #expect(text == "a ")
    }
}

/// SplitMix64: reproducible random numbers for property tests.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
