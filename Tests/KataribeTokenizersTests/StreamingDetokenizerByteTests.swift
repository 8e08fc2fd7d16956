import Testing
@testable import KataribeTokenizers

/// A byte-level toy tokenizer: id = byte value, decoded as UTF-8 with U+FFFD for broken sequences,
/// as Hugging Face's byte-level decoder does.
private struct ByteTokenizer: Tokenizer {
    func encodeWithPieces(_ text: String, addSpecialTokens: Bool) -> TokenizedText {
        let ids = text.utf8.map(Int.init)
        return TokenizedText(ids: ids, pieces: ids.map { String($0) })
    }
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        String(decoding: ids.filter { (0..<256).contains($0) }.map { UInt8($0) }, as: UTF8.self)
    }
    func tokenToID(_ token: String) -> Int? { Int(token) }
    func idToToken(_ id: Int) -> String? { (0..<256).contains(id) ? String(id) : nil }
    var vocabularySize: Int { 256 }
    var specialTokens: SpecialTokens { SpecialTokens() }
}

@Suite("StreamingDetokenizer on a byte-level stream")
struct StreamingDetokenizerByteTests {
    @Test("multi-byte characters are emitted only once complete, and the chunks add up to the full text")
    func holdsIncompleteCharacters() {
        let text = "語りA"
        var detokenizer = StreamingDetokenizer(tokenizer: ByteTokenizer())
        let chunks = text.utf8.map { detokenizer.add(Int($0)) }
        #expect(chunks == ["", "", "語", "", "", "り", "A"])
        #expect(chunks.joined() + detokenizer.finish() == text)
    }

    @Test("finish returns a trailing incomplete character as U+FFFD, as decode does")
    func finishIncomplete() {
        var detokenizer = StreamingDetokenizer(tokenizer: ByteTokenizer())
        #expect(detokenizer.add(0xE8) == "")
        #expect(detokenizer.finish() == "\u{FFFD}")
    }
}
