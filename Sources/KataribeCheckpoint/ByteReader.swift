/// Bounds-checked little-endian reads from a byte buffer. Every read past the end reports
/// `nil` so that parsers of untrusted files never trap.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var position: Int

    init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    func canRead(_ count: Int, at offset: Int) -> Bool {
        offset >= 0 && count >= 0 && offset <= bytes.count && count <= bytes.count - offset
    }

    func u8(at offset: Int) -> UInt8? {
        canRead(1, at: offset) ? bytes[offset] : nil
    }

    func u16(at offset: Int) -> UInt16? {
        guard canRead(2, at: offset) else { return nil }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    func u32(at offset: Int) -> UInt32? {
        guard canRead(4, at: offset) else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * i) }
        return v
    }

    func u64(at offset: Int) -> UInt64? {
        guard canRead(8, at: offset) else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * i) }
        return v
    }

    func slice(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer? {
        guard canRead(count, at: offset) else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    mutating func readU8() -> UInt8? {
        defer { position += 1 }
        return u8(at: position)
    }

    mutating func read(_ count: Int) -> UnsafeRawBufferPointer? {
        guard let s = slice(position, count) else { return nil }
        position += count
        return s
    }

    mutating func readU16() -> UInt16? { defer { position += 2 }; return u16(at: position) }
    mutating func readU32() -> UInt32? { defer { position += 4 }; return u32(at: position) }
    mutating func readU64() -> UInt64? { defer { position += 8 }; return u64(at: position) }
}

/// Multiplies non-negative sizes, returning nil on overflow (hostile shapes must not trap).
func checkedProduct(_ values: [Int]) -> Int? {
    var result = 1
    for v in values {
        guard v >= 0 else { return nil }
        let (p, overflow) = result.multipliedReportingOverflow(by: v)
        if overflow { return nil }
        result = p
    }
    return result
}
