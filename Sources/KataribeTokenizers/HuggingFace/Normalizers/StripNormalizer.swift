/// `Strip`: removes leading and/or trailing whitespace (Unicode White_Space).
struct StripNormalizer: HFNormalizer {
    let left: Bool
    let right: Bool

    func normalize(_ text: inout NormalizedText) {
        let scalars = UTF8Bytes.scalars(text.bytes)
        var start = 0, end = scalars.count
        if left { while start < end && UnicodeProperties.isWhitespace(scalars[start]) { start += 1 } }
        if right { while end > start && UnicodeProperties.isWhitespace(scalars[end - 1]) { end -= 1 } }
        guard start > 0 || end < scalars.count else { return }
        if start > 0 { text.atOriginalStart = false }
        text.bytes = UTF8Bytes.bytes(of: Array(scalars[start..<end]))
    }
}

/// `StripAccents`: removes combining marks (general category M).
struct StripAccentsNormalizer: HFNormalizer {
    func normalize(_ text: inout NormalizedText) {
        let scalars = UTF8Bytes.scalars(text.bytes)
        let kept = scalars.filter { !UnicodeProperties.isMark($0) }
        guard kept.count != scalars.count else { return }
        if let first = scalars.first, UnicodeProperties.isMark(first) { text.atOriginalStart = false }
        text.bytes = UTF8Bytes.bytes(of: kept)
    }
}
