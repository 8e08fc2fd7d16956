/// A hand-written scanner equivalent to the GPT-2 split pattern that `ByteLevel` uses:
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// (Oniguruma: leftmost-first alternation, `\s` = White_Space). It classifies each scalar once.
enum GPT2Splitter {
    private enum Class: UInt8 { case letter, number, space, other }

    /// ASCII classes, indexed by byte.
    private static let asciiClasses: [Class] = (0..<128).map { byte in
        let scalar = UInt32(byte)
        if UnicodeProperties.isWhitespace(scalar) { return .space }
        if UnicodeProperties.isLetter(scalar) { return .letter }
        if UnicodeProperties.isNumber(scalar) { return .number }
        return .other
    }

    @inline(__always)
    private static func classify(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Class, Int) {
        let lead = bytes[i]
        if lead < 0x80 { return (asciiClasses[Int(lead)], 1) }
        let (scalar, length) = UTF8Bytes.decode(bytes, at: i)
        if UnicodeProperties.isWhitespace(scalar) { return (.space, length) }
        let category = UnicodeProperties.category(scalar).rawValue
        if category <= 4 { return (.letter, length) }
        if category >= 8 && category <= 10 { return (.number, length) }
        return (.other, length)
    }

    /// Calls `body(start, end)` for each piece of `bytes[start..<end]`, in order.
    @inline(__always)
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, _ body: (Int, Int) -> Void) {
        var i = start
        while i < end {
            let lead = bytes[i]
            // 's 't 're 've 'm 'll 'd
            if lead == 0x27, i + 1 < end {
                let next = bytes[i + 1]
                if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 {
                    body(i, i + 2)
                    i += 2
                    continue
                }
                if i + 2 < end {
                    let third = bytes[i + 2]
                    if (next == 0x72 && third == 0x65) || (next == 0x76 && third == 0x65) || (next == 0x6C && third == 0x6C) {
                        body(i, i + 3)
                        i += 3
                        continue
                    }
                }
            }
            let runStart = i
            var runKind = classify(bytes, i).0
            if lead == 0x20 && i + 1 < end {
                // " ?X+": a single space joins a following letter/number/other run.
                let nextKind = classify(bytes, i + 1).0
                if nextKind != .space {
                    runKind = nextKind
                    i += 1
                }
            }
            if runKind != .space {
                var j = i
                while j < end {
                    let (k, l) = classify(bytes, j)
                    if k != runKind { break }
                    j += l
                }
                body(runStart, j)
                i = j
                continue
            }
            // Whitespace run: `\s+(?!\S)` leaves the last whitespace for the next word, `\s+`
            // takes a lone one.
            var j = i
            var lastStart = i
            var count = 0
            while j < end {
                let (k, l) = classify(bytes, j)
                if k != .space { break }
                lastStart = j
                j += l
                count += 1
            }
            if j == end || count == 1 {
                body(i, j)
                i = j
            } else {
                body(i, lastStart)
                i = lastStart
            }
        }
    }
}
