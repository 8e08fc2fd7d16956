/// UTF-8 helpers that work on bytes, never on `Character`s: the tokenizers must see exactly the
/// scalars they were given (Swift `String` comparison would treat "é" and "e\u{301}" as equal).
enum UTF8Bytes {
    /// Length of the sequence introduced by `lead`, assuming valid UTF-8 (1 for stray bytes).
    @inline(__always)
    static func sequenceLength(lead: UInt8) -> Int {
        if lead < 0x80 { return 1 }
        if lead < 0xE0 { return lead < 0xC0 ? 1 : 2 }
        return lead < 0xF0 ? 3 : 4
    }

    /// Decodes the scalar starting at `index` of valid UTF-8.
    @inline(__always)
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (scalar: UInt32, length: Int) {
        let b0 = UInt32(bytes[index])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 {
            return (((b0 & 0x1F) << 6) | (UInt32(bytes[index + 1]) & 0x3F), 2)
        }
        if b0 < 0xF0 {
            return (((b0 & 0x0F) << 12) | ((UInt32(bytes[index + 1]) & 0x3F) << 6)
                | (UInt32(bytes[index + 2]) & 0x3F), 3)
        }
        return (((b0 & 0x07) << 18) | ((UInt32(bytes[index + 1]) & 0x3F) << 12)
            | ((UInt32(bytes[index + 2]) & 0x3F) << 6) | (UInt32(bytes[index + 3]) & 0x3F), 4)
    }

    /// Appends the UTF-8 encoding of `scalar`.
    @inline(__always)
    static func append(_ scalar: UInt32, to out: inout [UInt8]) {
        if scalar < 0x80 {
            out.append(UInt8(scalar))
        } else if scalar < 0x800 {
            out.append(UInt8(0xC0 | (scalar >> 6)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        } else if scalar < 0x10000 {
            out.append(UInt8(0xE0 | (scalar >> 12)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        } else {
            out.append(UInt8(0xF0 | (scalar >> 18)))
            out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    /// Scalars of valid UTF-8 bytes.
    static func scalars(_ bytes: [UInt8]) -> [UInt32] {
        var result: [UInt32] = []
        result.reserveCapacity(bytes.count)
        bytes.withUnsafeBufferPointer { buffer in
            var i = 0
            while i < buffer.count {
                let (scalar, length) = decode(buffer, at: i)
                result.append(scalar)
                i += length
            }
        }
        return result
    }

    static func bytes(of scalars: [UInt32]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(scalars.count)
        for scalar in scalars { append(scalar, to: &out) }
        return out
    }

    /// Length of the well-formed sequence starting at `index`, or nil when the bytes there are not
    /// a complete, valid UTF-8 sequence (Unicode Table 3-7).
    static func validSequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        let prefix = wellFormedPrefixLength(bytes, at: index)
        return prefix.complete ? prefix.length : nil
    }

    /// How many bytes from `index` form a well-formed prefix of a UTF-8 sequence, and whether that
    /// prefix is a complete sequence. `length` is at least 1 for any byte that can start a sequence.
    static func wellFormedPrefixLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (length: Int, complete: Bool) {
        let b0 = bytes[index]
        let needed: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch b0 {
        case 0x00...0x7F: return (1, true)
        case 0xC2...0xDF: needed = 1
        case 0xE0: needed = 2; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: needed = 2
        case 0xED: needed = 2; high = 0x9F
        case 0xF0: needed = 3; low = 0x90
        case 0xF1...0xF3: needed = 3
        case 0xF4: needed = 3; high = 0x8F
        default: return (0, false)
        }
        var length = 1
        while length <= needed {
            guard index + length < bytes.count else { return (length, false) }
            let b = bytes[index + length]
            let (lo, hi): (UInt8, UInt8) = length == 1 ? (low, high) : (0x80, 0xBF)
            guard b >= lo && b <= hi else { return (length, false) }
            length += 1
        }
        return (length, true)
    }

    /// Decodes bytes, replacing each maximal ill-formed subpart with U+FFFD: the policy of Rust's
    /// `String::from_utf8_lossy` and Python's `bytes.decode("utf-8", "replace")`.
    static func lossyString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let array = Array(bytes)
        return array.withUnsafeBufferPointer { buffer -> String in
            var out: [UInt8] = []
            out.reserveCapacity(buffer.count)
            var i = 0
            while i < buffer.count {
                let (length, complete) = wellFormedPrefixLength(buffer, at: i)
                if complete {
                    out.append(contentsOf: buffer[i..<(i + length)])
                    i += length
                } else {
                    out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                    i += max(length, 1)
                }
            }
            return String(decoding: out, as: Unicode.UTF8.self)
        }
    }

    /// True when `bytes` is well-formed UTF-8.
    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var i = 0
            while i < buffer.count {
                if buffer[i] < 0x80 { i += 1; continue }
                guard let length = validSequenceLength(buffer, at: i) else { return false }
                i += length
            }
            return true
        }
    }

    /// The string for bytes already known to be valid UTF-8.
    @inline(__always)
    static func string<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes, as: Unicode.UTF8.self)
    }
}

/// `<0xXX>` (upper-case hex), the name of a byte-fallback token.
func byteFallbackPiece(_ byte: UInt8) -> [UInt8] {
    let digits: [UInt8] = Array("0123456789ABCDEF".utf8)
    return [0x3C, 0x30, 0x78, digits[Int(byte >> 4)], digits[Int(byte & 0xF)], 0x3E]
}
