/// `ByteLevel`: tokens in the byte-level alphabet back to bytes, then one lossy UTF-8 string
/// (tokens with characters outside the alphabet keep their own UTF-8).
struct ByteLevelDecoder: HFDecoder {
    func decodeChain(_ tokens: [[UInt8]]) -> [[UInt8]] {
        var bytes: [UInt8] = []
        for token in tokens { bytes.append(contentsOf: ByteLevelAlphabet.decode(token) ?? token) }
        return [Array(UTF8Bytes.lossyString(bytes).utf8)]
    }
}

/// `ByteFallback`: runs of `<0xXX>` tokens become their bytes when those form valid UTF-8,
/// otherwise one U+FFFD per byte token.
struct ByteFallbackDecoder: HFDecoder {
    static func byteValue(_ token: [UInt8]) -> UInt8? {
        SentencePieceTokenizer.byteValue(ofPiece: token) ?? lowerCaseByteValue(token)
    }

    /// `u8::from_str_radix` also accepts lower-case hex digits.
    private static func lowerCaseByteValue(_ token: [UInt8]) -> UInt8? {
        guard token.count == 6, token[0] == 0x3C, token[1] == 0x30, token[2] == 0x78, token[5] == 0x3E else { return nil }
        func digit(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: return byte - 0x30
            case 0x41...0x46: return byte - 0x41 + 10
            case 0x61...0x66: return byte - 0x61 + 10
            default: return nil
            }
        }
        guard let high = digit(token[3]), let low = digit(token[4]) else { return nil }
        return high << 4 | low
    }

    func decodeChain(_ tokens: [[UInt8]]) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if UTF8Bytes.isValid(pending) {
                result.append(pending)
            } else {
                for _ in pending { result.append([0xEF, 0xBF, 0xBD]) }
            }
            pending.removeAll()
        }
        for token in tokens {
            if let byte = Self.byteValue(token) {
                pending.append(byte)
            } else {
                flush()
                result.append(token)
            }
        }
        flush()
        return result
    }
}

/// `Fuse`: all tokens joined into one.
struct FuseDecoder: HFDecoder {
    func decodeChain(_ tokens: [[UInt8]]) -> [[UInt8]] { [tokens.flatMap { $0 }] }
}

/// `Strip`: removes up to `start` leading and `stop` trailing `content` characters per token.
struct StripDecoder: HFDecoder {
    let content: UInt32
    let start: Int
    let stop: Int

    func decodeChain(_ tokens: [[UInt8]]) -> [[UInt8]] {
        tokens.map { token in
            let scalars = UTF8Bytes.scalars(token)
            var startCut = 0
            for index in 0..<min(start, scalars.count) {
                if scalars[index] == content { startCut = index + 1 } else { break }
            }
            var stopCut = scalars.count
            for offset in 0..<min(stop, scalars.count) {
                let index = scalars.count - offset - 1
                if scalars[index] == content { stopCut = index } else { break }
            }
            guard startCut < stopCut else { return [] }
            return UTF8Bytes.bytes(of: Array(scalars[startCut..<stopCut]))
        }
    }
}

/// `Replace`: like the normalizer, applied to each token.
struct ReplaceDecoder: HFDecoder {
    let pattern: SplitPattern
    let content: [UInt8]

    func decodeChain(_ tokens: [[UInt8]]) -> [[UInt8]] {
        tokens.map { token in
            let matches = pattern.findMatches(in: token)
            guard !matches.isEmpty else { return token }
            var out: [UInt8] = []
            var last = 0
            for match in matches {
                out.append(contentsOf: token[last..<match.lowerBound])
                out.append(contentsOf: content)
                last = match.upperBound
            }
            out.append(contentsOf: token[last...])
            return out
        }
    }
}

/// `Metaspace`: the replacement character becomes a space, except at the very start of the first
/// token unless `prepend_scheme` is `never`.
struct MetaspaceDecoder: HFDecoder {
    let replacement: UInt32
    let prependScheme: MetaspacePreTokenizer.PrependScheme

    func decodeChain(_ tokens: [[UInt8]]) -> [[UInt8]] {
        tokens.enumerated().map { index, token in
            var out: [UInt8] = []
            out.reserveCapacity(token.count)
            token.withUnsafeBufferPointer { buffer in
                var i = 0
                while i < buffer.count {
                    let (scalar, length) = UTF8Bytes.decode(buffer, at: i)
                    if scalar == replacement {
                        if !(index == 0 && prependScheme != .never) { out.append(0x20) }
                    } else {
                        out.append(contentsOf: buffer[i..<(i + length)])
                    }
                    i += length
                }
            }
            return out
        }
    }
}

/// `BPEDecoder`: the end-of-word suffix becomes a space (none after the last token).
struct BPESuffixDecoder: HFDecoder {
    let suffix: [UInt8]

    func decodeChain(_ tokens: [[UInt8]]) -> [[UInt8]] {
        tokens.enumerated().map { index, token in
            let replacement: [UInt8] = index == tokens.count - 1 ? [] : [0x20]
            return ReplaceDecoder(pattern: .literal(suffix), content: replacement).decodeChain([token])[0]
        }
    }
}

/// `Sequence` of decoders, each fed the previous one's tokens.
struct DecoderSequence: HFDecoder {
    let decoders: [any HFDecoder]

    func decodeChain(_ tokens: [[UInt8]]) -> [[UInt8]] {
        decoders.reduce(tokens) { $1.decodeChain($0) }
    }
}
