/// `Precompiled`: a SentencePiece charsmap applied the way `tokenizers` does it (which differs
/// from sentencepiece itself): per extended grapheme cluster, a cluster shorter than 6 bytes is
/// replaced whole by the rule of its *shortest* matching prefix; otherwise each scalar is looked up.
struct PrecompiledNormalizer: HFNormalizer {
    let charsMap: PrecompiledCharsMap

    func normalize(_ text: inout NormalizedText) {
        guard !text.bytes.isEmpty else { return }
        let string = UTF8Bytes.string(text.bytes)
        var out: [UInt8] = []
        out.reserveCapacity(text.bytes.count)
        var modified = false
        var first = true
        for character in string {
            let grapheme = Array(String(character).utf8)
            var replacedWholeToEmpty = false
            if grapheme.count < 6, let value = grapheme.withUnsafeBufferPointer({ charsMap.firstMatch($0) }) {
                let replacement = charsMap.replacement(at: value)
                out.append(contentsOf: replacement)
                modified = true
                replacedWholeToEmpty = replacement.isEmpty
            } else {
                grapheme.withUnsafeBufferPointer { buffer in
                    var i = 0
                    var leadingRemoved = true
                    while i < buffer.count {
                        let length = UTF8Bytes.sequenceLength(lead: buffer[i])
                        let part = UnsafeBufferPointer(rebasing: buffer[i..<min(i + length, buffer.count)])
                        if let value = charsMap.firstMatch(part) {
                            let replacement = charsMap.replacement(at: value)
                            out.append(contentsOf: replacement)
                            modified = true
                            if !replacement.isEmpty { leadingRemoved = false }
                        } else {
                            out.append(contentsOf: part)
                            leadingRemoved = false
                        }
                        i += length
                    }
                    replacedWholeToEmpty = leadingRemoved
                }
            }
            if first && replacedWholeToEmpty { text.atOriginalStart = false }
            first = false
        }
        if modified { text.bytes = out }
    }
}
