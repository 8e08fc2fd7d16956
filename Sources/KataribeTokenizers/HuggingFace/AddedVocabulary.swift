/// Tokens added on top of the model vocabulary (`added_tokens`): they are cut out of the text
/// before the model sees it. Tokens with `normalized: false` match the raw input; the others match
/// the normalized text of what remains, as `AddedVocabulary::extract_and_normalize` does.
struct AddedVocabulary: Sendable {
    struct Token: Sendable {
        let id: Int
        let content: [UInt8]
        let singleWord: Bool
        let leftStrip: Bool
        let rightStrip: Bool
        let normalized: Bool
        let special: Bool
        /// The normalizer's output for `content` (what `normalized` tokens match, and what decoding
        /// hands to the decoder).
        let normalizedContent: [UInt8]
    }

    private(set) var tokens: [Token] = []
    private var byID: [Int: Int] = [:]
    private var byContent = BytesMap(capacity: 16)
    private var specialContents = BytesMap(capacity: 16)
    private var rawMatcher: Matcher?
    private var normalizedMatcher: Matcher?
    /// How often the matchers were built: loading must build them once, not once per token.
    private(set) var matcherBuilds = 0

    /// Leftmost-longest matching of a token set (`daachorse` with `MatchKind::LeftmostLongest`).
    private struct Matcher: Sendable {
        let trie: DoubleArrayTrie
        let firstBytes: [Bool]

        init(patterns: [[UInt8]], indices: [Int32]) {
            var unique: [[UInt8]] = []
            var values: [Int32] = []
            var seen = BytesMap(capacity: patterns.count)
            for (pattern, index) in zip(patterns, indices) where !pattern.isEmpty {
                // Later tokens with the same pattern win.
                if let existing = seen.set(pattern, Int32(values.count)) {
                    values[Int(existing)] = index
                    seen.set(pattern, existing)
                } else {
                    unique.append(pattern)
                    values.append(index)
                }
            }
            trie = DoubleArrayTrie(keys: unique, values: values)
            var first = [Bool](repeating: false, count: 256)
            for pattern in unique { first[Int(pattern[0])] = true }
            firstBytes = first
        }

        /// Non-overlapping (start, end, token index) matches.
        func matches(in bytes: UnsafeBufferPointer<UInt8>) -> [(start: Int, end: Int, token: Int)] {
            var result: [(Int, Int, Int)] = []
            var i = 0
            while i < bytes.count {
                if firstBytes[Int(bytes[i])], let (length, index) = trie.longestPrefix(of: bytes, from: i) {
                    result.append((i, i + length, Int(index)))
                    i += length
                } else {
                    i += 1
                }
            }
            return result
        }
    }

    var isEmpty: Bool { tokens.isEmpty }

    func token(forID id: Int) -> Token? { byID[id].map { tokens[$0] } }
    func id(forContent content: [UInt8]) -> Int? { byContent[content].map(Int.init) }
    func isSpecial(_ id: Int) -> Bool { token(forID: id)?.special ?? false }

    /// Adds tokens as `AddedVocabulary::add_tokens` does (an existing entry for the same content is
    /// replaced). `normalize` gives a token's normalized form.
    mutating func add(_ token: Token) {
        insertWithoutMatching(token)
        rebuildMatchers()
    }

    /// Adds many tokens and builds the matchers once: rebuilding them per token made a file with
    /// 16k added tokens take 48 s to load (quadratic), where the reference library takes 0.04 s.
    mutating func add(contentsOf newTokens: some Sequence<Token>) {
        for token in newTokens { insertWithoutMatching(token) }
        rebuildMatchers()
    }

    /// Updates the id and content tables (which later ids depend on) but not the matchers; callers
    /// must finish with `rebuildMatchers()`.
    mutating func insertWithoutMatching(_ token: Token) {
        if let existing = byID[token.id] {
            tokens[existing] = token
        } else {
            byID[token.id] = tokens.count
            tokens.append(token)
        }
        byContent.set(token.content, Int32(token.id))
        if token.special { specialContents.set(token.content, 1) }
    }

    mutating func rebuildMatchers() {
        matcherBuilds += 1
        var raw: ([[UInt8]], [Int32]) = ([], [])
        var normalized: ([[UInt8]], [Int32]) = ([], [])
        for (index, token) in tokens.enumerated() {
            if token.normalized {
                normalized.0.append(token.normalizedContent)
                normalized.1.append(Int32(index))
            } else {
                raw.0.append(token.content)
                raw.1.append(Int32(index))
            }
        }
        rawMatcher = raw.0.isEmpty ? nil : Matcher(patterns: raw.0, indices: raw.1)
        normalizedMatcher = normalized.0.isEmpty ? nil : Matcher(patterns: normalized.0, indices: normalized.1)
    }

    enum Segment {
        case text(Range<Int>)
        case token(id: Int, range: Range<Int>)
    }

    /// Splits `bytes` around the tokens found by the raw or the normalized matcher.
    func split(_ bytes: [UInt8], normalizedTokens: Bool) -> [Segment] {
        guard let matcher = normalizedTokens ? normalizedMatcher : rawMatcher else {
            return [.text(0..<bytes.count)]
        }
        return bytes.withUnsafeBufferPointer { buffer -> [Segment] in
            var segments: [Segment] = []
            var offset = 0
            for match in matcher.matches(in: buffer) {
                let token = tokens[match.token]
                var start = match.start, stop = match.end
                if token.singleWord {
                    let startOK = start == 0 || !Self.endsWithWord(buffer, before: start)
                    let stopOK = stop == buffer.count || !Self.startsWithWord(buffer, at: stop)
                    if !startOK || !stopOK { continue }
                }
                if token.leftStrip {
                    start = max(Self.whitespaceStart(buffer, before: start), offset)
                }
                if token.rightStrip {
                    stop = Self.whitespaceEnd(buffer, from: stop)
                }
                if offset < start { segments.append(.text(offset..<start)) }
                segments.append(.token(id: token.id, range: start..<stop))
                offset = stop
            }
            if offset != buffer.count { segments.append(.text(offset..<buffer.count)) }
            return segments
        }
    }

    private static func lastScalar(_ buffer: UnsafeBufferPointer<UInt8>, before end: Int) -> (UInt32, Int)? {
        guard end > 0 else { return nil }
        var start = end - 1
        while start > 0 && buffer[start] & 0xC0 == 0x80 { start -= 1 }
        return (UTF8Bytes.decode(buffer, at: start).scalar, start)
    }

    private static func endsWithWord(_ buffer: UnsafeBufferPointer<UInt8>, before end: Int) -> Bool {
        guard let (scalar, _) = lastScalar(buffer, before: end) else { return false }
        return UnicodeProperties.isRustWord(scalar)
    }

    private static func startsWithWord(_ buffer: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        guard start < buffer.count else { return false }
        return UnicodeProperties.isRustWord(UTF8Bytes.decode(buffer, at: start).scalar)
    }

    /// Start of the run of whitespace that ends at `end`.
    private static func whitespaceStart(_ buffer: UnsafeBufferPointer<UInt8>, before end: Int) -> Int {
        var position = end
        while let (scalar, start) = lastScalar(buffer, before: position), UnicodeProperties.isWhitespace(scalar) {
            position = start
        }
        return position
    }

    /// End of the run of whitespace that starts at `start`.
    private static func whitespaceEnd(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var position = start
        while position < buffer.count {
            let (scalar, length) = UTF8Bytes.decode(buffer, at: position)
            guard UnicodeProperties.isWhitespace(scalar) else { break }
            position += length
        }
        return position
    }
}

extension AddedVocabulary {
    /// Whether a token string is the content of a special token (`decode` filters by content).
    func isSpecialContent(_ content: [UInt8]) -> Bool {
        specialContents[content] != nil
    }
}
