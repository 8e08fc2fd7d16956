/// `ByteLevel`: optionally prefixes a space, splits with the GPT-2 pattern, and marks the splits as
/// byte-level (the model reads each byte as its alphabet character).
struct ByteLevelPreTokenizer: HFPreTokenizer {
    let addPrefixSpace: Bool
    let useRegex: Bool

    func preTokenize(_ splits: inout SplitList) {
        splits.materializeByteLevel()
        if addPrefixSpace {
            splits.rewrite { bytes, _ in
                bytes.first == 0x20 ? Array(bytes) : [0x20] + bytes
            }
        }
        if useRegex {
            splits.refine { bytes in
                var ranges: [Range<Int>] = []
                bytes.withUnsafeBufferPointer { buffer in
                    GPT2Splitter.split(buffer, from: 0, to: buffer.count) { start, end in ranges.append(start..<end) }
                }
                return ranges
            }
        }
        splits.byteLevel = true
    }
}
