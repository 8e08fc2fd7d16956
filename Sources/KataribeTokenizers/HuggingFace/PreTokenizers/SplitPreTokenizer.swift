/// How a split treats the delimiters it found (`SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"

    /// `NormalizedString::split`: turns (range, isMatch) pieces covering the text into the kept ranges.
    func apply(_ pieces: [(range: Range<Int>, isMatch: Bool)]) -> [Range<Int>] {
        switch self {
        case .isolated:
            return pieces.map(\.range)
        case .removed:
            return pieces.filter { !$0.isMatch }.map(\.range)
        case .contiguous:
            var result: [Range<Int>] = []
            var previousMatch = false
            for (index, piece) in pieces.enumerated() {
                if index > 0 && piece.isMatch == previousMatch, let last = result.last {
                    result[result.count - 1] = last.lowerBound..<piece.range.upperBound
                } else {
                    result.append(piece.range)
                }
                previousMatch = piece.isMatch
            }
            return result
        case .mergedWithPrevious:
            var result: [Range<Int>] = []
            var previousMatch = false
            for piece in pieces {
                if piece.isMatch && !previousMatch, let last = result.last {
                    result[result.count - 1] = last.lowerBound..<piece.range.upperBound
                } else {
                    result.append(piece.range)
                }
                previousMatch = piece.isMatch
            }
            return result
        case .mergedWithNext:
            var result: [Range<Int>] = []
            var previousMatch = false
            for piece in pieces.reversed() {
                if piece.isMatch && !previousMatch, let last = result.last {
                    result[result.count - 1] = piece.range.lowerBound..<last.upperBound
                } else {
                    result.append(piece.range)
                }
                previousMatch = piece.isMatch
            }
            return result.reversed()
        }
    }

    /// Pieces covering `count` bytes from match ranges (`Pattern::find_matches` for regexes).
    static func pieces(matches: [Range<Int>], count: Int, invert: Bool) -> [(range: Range<Int>, isMatch: Bool)] {
        if count == 0 { return [(0..<0, invert)] }
        var pieces: [(range: Range<Int>, isMatch: Bool)] = []
        var previous = 0
        for match in matches {
            if previous != match.lowerBound { pieces.append((previous..<match.lowerBound, invert)) }
            pieces.append((match, !invert))
            previous = match.upperBound
        }
        if previous != count { pieces.append((previous..<count, invert)) }
        return pieces
    }

    /// Pieces from a per-scalar predicate (`Pattern` for closures): each matching scalar is its own piece.
    static func pieces(_ bytes: ArraySlice<UInt8>, matching predicate: (UInt32) -> Bool) -> [(range: Range<Int>, isMatch: Bool)] {
        if bytes.isEmpty { return [(0..<0, false)] }
        var pieces: [(range: Range<Int>, isMatch: Bool)] = []
        let array = Array(bytes)
        array.withUnsafeBufferPointer { buffer in
            var lastOffset = 0
            var i = 0
            while i < buffer.count {
                let (scalar, length) = UTF8Bytes.decode(buffer, at: i)
                if predicate(scalar) {
                    if lastOffset < i { pieces.append((lastOffset..<i, false)) }
                    pieces.append((i..<(i + length), true))
                    lastOffset = i + length
                }
                i += length
            }
            if buffer.count > lastOffset { pieces.append((lastOffset..<buffer.count, false)) }
        }
        return pieces
    }
}

/// `Split`: splits on a literal or regex pattern with the given delimiter behaviour.
struct SplitPreTokenizer: HFPreTokenizer {
    let pattern: SplitPattern
    let behavior: SplitBehavior
    let invert: Bool

    func preTokenize(_ splits: inout SplitList) {
        splits.materializeByteLevel()
        splits.refine { bytes in
            let array = Array(bytes)
            let matches = pattern.findMatches(in: array)
            return behavior.apply(SplitBehavior.pieces(matches: matches, count: array.count, invert: invert))
        }
    }
}

/// Splits on scalars satisfying a predicate: `Digits`, `WhitespaceSplit`, `Punctuation`,
/// `CharDelimiterSplit`, `BertPreTokenizer`'s stages.
struct PredicateSplitPreTokenizer: HFPreTokenizer {
    let behavior: SplitBehavior
    let predicate: @Sendable (UInt32) -> Bool

    func preTokenize(_ splits: inout SplitList) {
        splits.materializeByteLevel()
        splits.refine { bytes in behavior.apply(SplitBehavior.pieces(bytes, matching: predicate)) }
    }
}

/// `Whitespace`: keeps runs matching `\w+|[^\w\s]+` (Rust regex, Unicode), drops the rest.
struct WhitespacePreTokenizer: HFPreTokenizer {
    func preTokenize(_ splits: inout SplitList) {
        splits.materializeByteLevel()
        splits.refine { bytes in
            var ranges: [Range<Int>] = []
            let array = Array(bytes)
            array.withUnsafeBufferPointer { buffer in
                var i = 0
                while i < buffer.count {
                    let (scalar, length) = UTF8Bytes.decode(buffer, at: i)
                    let isWord = UnicodeProperties.isRustWord(scalar)
                    if !isWord && UnicodeProperties.isWhitespace(scalar) {
                        i += length
                        continue
                    }
                    let start = i
                    i += length
                    while i < buffer.count {
                        let (next, nextLength) = UTF8Bytes.decode(buffer, at: i)
                        let nextIsWord = UnicodeProperties.isRustWord(next)
                        if isWord ? !nextIsWord : (nextIsWord || UnicodeProperties.isWhitespace(next)) { break }
                        i += nextLength
                    }
                    ranges.append(start..<i)
                }
            }
            return ranges
        }
    }
}

/// `Sequence` of pre-tokenizers, applied in order.
struct PreTokenizerSequence: HFPreTokenizer {
    let preTokenizers: [any HFPreTokenizer]

    func preTokenize(_ splits: inout SplitList) {
        for preTokenizer in preTokenizers { preTokenizer.preTokenize(&splits) }
    }
}
