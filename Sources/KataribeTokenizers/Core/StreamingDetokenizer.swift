/// Turns a stream of token ids into text as it becomes final: never a broken UTF-8 character, and
/// the concatenation of everything returned equals `tokenizer.decode(allIDs, skipSpecialTokens:)`.
///
/// Text is held back while a later token could still change it: a trailing U+FFFD (an incomplete
/// byte sequence), trailing whitespace (`strip()` and clean-up may remove it), a trailing " n",
/// " '" ... that `clean_up_tokenization_spaces` could rewrite, and the text of the trailing ids the
/// tokenizer reports as pending (byte-fallback runs, pieces after a special token in transformers'
/// slow T5 decode). Only a window of recent ids is decoded at each step: the text of the ids before the
/// window is final, and the window's decode minus the decode of its already-emitted part gives the
/// new text (the technique of text-generation-inference's incremental detokenization). When that
/// subtraction does not line up, the whole sequence is decoded instead.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: any Tokenizer
    public let skipSpecialTokens: Bool
    public private(set) var ids: [Int] = []

    /// Window start: text for `ids[..<windowStart]` is final and emitted.
    private var windowStart = 0
    /// End of the window's already-emitted part, and that part decoded from `windowStart`.
    private var anchor = 0
    private var anchorText: [UInt8] = []
    /// Bytes emitted beyond `anchorText`, as rendered by decoding from `windowStart`.
    private var emittedAfterAnchor = 0
    /// Everything emitted so far (for the whole-sequence fallback).
    private var emitted: [UInt8] = []

    public init(tokenizer: any Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// The text emitted so far.
    public var text: String { UTF8Bytes.string(emitted) }

    /// Feeds one id and returns the newly final text (often empty).
    public mutating func add(_ id: Int) -> String {
        ids.append(id)
        let pending = tokenizer.pendingTokenCount(in: ids[max(0, anchor - 1)...], skipSpecialTokens: skipSpecialTokens)
        return advance(upTo: ids.count - min(pending, ids.count - anchor), final: false)
    }

    /// Feeds several ids and returns the newly final text.
    public mutating func add<S: Sequence>(contentsOf newIDs: S) -> String where S.Element == Int {
        var out = ""
        for id in newIDs { out += add(id) }
        return out
    }

    /// Ends the stream: returns everything still held back.
    public mutating func finish() -> String {
        advance(upTo: ids.count, final: true)
    }

    private func decodeBytes(_ range: Range<Int>) -> [UInt8] {
        Array(tokenizer.decode(Array(ids[range]), skipSpecialTokens: skipSpecialTokens).utf8)
    }

    private mutating func advance(upTo end: Int, final: Bool) -> String {
        guard end > anchor || final else { return "" }
        let window = decodeBytes(windowStart..<max(end, anchor))
        var tail: ArraySlice<UInt8>
        if window.starts(with: anchorText) {
            tail = window[anchorText.count...]
        } else {
            // The window did not line up: decode everything and continue from there.
            let whole = decodeBytes(0..<max(end, anchor))
            guard whole.starts(with: emitted) else { return "" }  // emitted text cannot be taken back
            windowStart = 0
            anchor = 0
            anchorText = []
            emittedAfterAnchor = emitted.count
            tail = whole[...]
        }
        let stableCount = final ? tail.count : Self.stablePrefixLength(tail)
        var newText: [UInt8] = []
        if stableCount > emittedAfterAnchor {
            newText = Array(tail[(tail.startIndex + emittedAfterAnchor)..<(tail.startIndex + stableCount)])
            emittedAfterAnchor = stableCount
            emitted += newText
        }
        // Slide the window once everything decoded so far is final. A stable, non-empty tail ends
        // with visible text, so the new anchor cannot be stripped away by the next decode.
        if !final && stableCount == tail.count && end == ids.count && end > anchor && !tail.isEmpty {
            let newStart = anchor
            windowStart = newStart
            anchor = end
            anchorText = decodeBytes(newStart..<end)
            emittedAfterAnchor = 0
        }
        return UTF8Bytes.string(newText)
    }

    /// Characters at the end that a later token could still change.
    static func stablePrefixLength(_ text: ArraySlice<UInt8>) -> Int {
        let scalars = UTF8Bytes.scalars(Array(text))
        var keep = scalars.count
        while keep > 0 {
            let scalar = scalars[keep - 1]
            guard scalar == 0xFFFD || UnicodeProperties.isPythonSpace(scalar) else { break }
            keep -= 1
        }
        // Partial clean-up patterns (" n't", " 's", " ' " ...) are held until they resolve.
        for pattern in cleanupPrefixes {
            if keep >= pattern.count && Array(scalars[(keep - pattern.count)..<keep]) == pattern {
                keep -= pattern.count
                break
            }
        }
        var bytes = 0
        for scalar in scalars[..<keep] { bytes += scalar < 0x80 ? 1 : scalar < 0x800 ? 2 : scalar < 0x10000 ? 3 : 4 }
        return bytes
    }

    private static let cleanupPrefixes: [[UInt32]] = [" n'", " 'v", " 'r", " n", " '"].map { $0.unicodeScalars.map(\.value) }
}
