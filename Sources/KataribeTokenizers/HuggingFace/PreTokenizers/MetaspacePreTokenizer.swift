/// `Metaspace`: spaces become the replacement character (U+2581 by default), which is prepended
/// according to `prepend_scheme`, and the text is split before each replacement character.
struct MetaspacePreTokenizer: HFPreTokenizer {
    enum PrependScheme: Sendable { case always, never, first }

    let replacement: UInt32
    let prependScheme: PrependScheme
    let split: Bool

    func preTokenize(_ splits: inout SplitList) {
        splits.materializeByteLevel()
        var symbol: [UInt8] = []
        UTF8Bytes.append(replacement, to: &symbol)
        splits.rewrite { bytes, atOriginalStart in
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + symbol.count)
            for byte in bytes {
                if byte == 0x20 { out.append(contentsOf: symbol) } else { out.append(byte) }
            }
            let startsWithSymbol = out.starts(with: symbol)
            switch prependScheme {
            case .always: if !startsWithSymbol { out.insert(contentsOf: symbol, at: 0) }
            case .first: if !startsWithSymbol && atOriginalStart { out.insert(contentsOf: symbol, at: 0) }
            case .never: break
            }
            return out
        }
        guard split else { return }
        splits.refine { bytes in
            // MergedWithNext: each replacement character starts a new piece.
            var ranges: [Range<Int>] = []
            var pieceStart = 0
            var i = 0
            let base = bytes.startIndex
            while i < bytes.count {
                if i + symbol.count <= bytes.count && bytes[(base + i)..<(base + i + symbol.count)].elementsEqual(symbol) {
                    if i > pieceStart { ranges.append(pieceStart..<i) }
                    pieceStart = i
                    i += symbol.count
                } else {
                    i += UTF8Bytes.sequenceLength(lead: bytes[base + i])
                }
            }
            if pieceStart < bytes.count { ranges.append(pieceStart..<bytes.count) }
            return ranges
        }
    }
}
