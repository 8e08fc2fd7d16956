/// transformers' text post-processing helpers.
enum TextCleanup {
    /// `clean_up_tokenization`: removes the space before punctuation and English contractions,
    /// as a sequence of plain replacements (in this order).
    static func cleanUpTokenization(_ text: String) -> String {
        var bytes = Array(text.utf8)
        for (from, to) in replacements {
            bytes = replaceAll(bytes, Array(from.utf8), Array(to.utf8))
        }
        return UTF8Bytes.string(bytes)
    }

    static let replacements: [(String, String)] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
        (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ]

    static func replaceAll(_ bytes: [UInt8], _ needle: [UInt8], _ replacement: [UInt8]) -> [UInt8] {
        let matches = SplitPattern.literal(needle).findMatches(in: bytes)
        guard !matches.isEmpty else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var last = 0
        for match in matches {
            out.append(contentsOf: bytes[last..<match.lowerBound])
            out.append(contentsOf: replacement)
            last = match.upperBound
        }
        out.append(contentsOf: bytes[last...])
        return out
    }

    /// Python's `str.strip()` (whitespace as `str.isspace` defines it).
    static func pythonStrip(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var start = 0, end = scalars.count
        while start < end && UnicodeProperties.isPythonSpace(scalars[start].value) { start += 1 }
        while end > start && UnicodeProperties.isPythonSpace(scalars[end - 1].value) { end -= 1 }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[start..<end])
        return String(result)
    }
}
