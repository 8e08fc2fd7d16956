/// `Replace`: every match of a literal string or an Oniguruma regex becomes `content`.
struct ReplaceNormalizer: HFNormalizer {
    let pattern: SplitPattern
    let content: [UInt8]

    func normalize(_ text: inout NormalizedText) {
        let matches = pattern.findMatches(in: text.bytes)
        guard !matches.isEmpty else { return }
        var out: [UInt8] = []
        out.reserveCapacity(text.bytes.count)
        var last = 0
        for match in matches {
            out.append(contentsOf: text.bytes[last..<match.lowerBound])
            out.append(contentsOf: content)
            last = match.upperBound
        }
        out.append(contentsOf: text.bytes[last...])
        // Deleting the first character moves the text away from the original start.
        if let first = matches.first, first.lowerBound == 0, !first.isEmpty, content.isEmpty {
            text.atOriginalStart = false
        }
        text.bytes = out
    }
}

/// A `Split`/`Replace` pattern: `{"String": ...}` (literal) or `{"Regex": ...}` (Oniguruma).
enum SplitPattern: Sendable {
    case literal([UInt8])
    case regex(OnigRegex)

    /// Non-overlapping matches, left to right, as the `onig` crate yields them.
    func findMatches(in bytes: [UInt8]) -> [Range<Int>] {
        switch self {
        case let .regex(regex):
            return bytes.isEmpty ? [] : regex.findMatches(in: bytes)
        case let .literal(needle):
            guard !needle.isEmpty, !bytes.isEmpty else { return [] }
            var result: [Range<Int>] = []
            bytes.withUnsafeBufferPointer { haystack in
                needle.withUnsafeBufferPointer { needle in
                    var i = 0
                    let first = needle[0]
                    while i + needle.count <= haystack.count {
                        if haystack[i] == first {
                            var j = 1
                            while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                            if j == needle.count {
                                result.append(i..<(i + needle.count))
                                i += needle.count
                                continue
                            }
                        }
                        i += 1
                    }
                }
            }
            return result
        }
    }
}
