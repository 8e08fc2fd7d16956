/// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes map to
/// themselves, the others to U+0100 and up, in byte order.
enum ByteLevelAlphabet {
    static let scalarForByte: [UInt32] = {
        var printable = Set<UInt32>()
        for byte in UInt32(0x21)...0x7E { printable.insert(byte) }
        for byte in UInt32(0xA1)...0xAC { printable.insert(byte) }
        for byte in UInt32(0xAE)...0xFF { printable.insert(byte) }
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if printable.contains(UInt32(byte)) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// Byte for each alphabet scalar (index: scalar value, below 0x144), -1 elsewhere.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar)] = Int16(byte) }
        return table
    }()

    /// UTF-8 of each byte's alphabet character.
    static let encodedByte: [[UInt8]] = scalarForByte.map { scalar in
        var out: [UInt8] = []
        UTF8Bytes.append(scalar, to: &out)
        return out
    }

    static func encode<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes { out.append(contentsOf: encodedByte[Int(byte)]) }
        return out
    }

    /// The bytes behind a token written in the alphabet, or nil when a character is outside it
    /// (the `ByteLevel` decoder then keeps the token's own UTF-8).
    static func decode(_ token: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.count)
        let ok = token.withUnsafeBufferPointer { buffer -> Bool in
            var i = 0
            while i < buffer.count {
                let (scalar, length) = UTF8Bytes.decode(buffer, at: i)
                guard scalar < 0x144, byteForScalar[Int(scalar)] >= 0 else { return false }
                out.append(UInt8(byteForScalar[Int(scalar)]))
                i += length
            }
            return true
        }
        return ok ? out : nil
    }

    /// The id of every byte's alphabet character in `vocabulary`, nil unless all 256 are there
    /// (a byte-level BPE model then encodes any byte without searching its merges).
    static func tokenIDs(in vocabulary: BytesMap) -> [Int32]? {
        var ids: [Int32] = []
        for byte in 0..<256 {
            guard let id = vocabulary[encodedByte[byte]] else { return nil }
            ids.append(id)
        }
        return ids
    }
}
