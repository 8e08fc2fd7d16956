/// Streaming SHA-1 (FIPS 180-4), only for git blob ids: the hub's ETag for a file kept in git (not LFS)
/// is `sha1("blob <size>\0" + content)`, which lets small files be verified like LFS ones.
public struct SHA1: Sendable {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0
    )
    private var pending = BlockBuffer()
    private var byteCount: UInt64 = 0

    public init() {}

    /// The git object id of a blob with this content.
    public static func gitBlobID(of content: [UInt8]) -> String {
        var hasher = SHA1.gitBlob(size: Int64(content.count))
        hasher.update(content)
        return hasher.finalizeHex()
    }

    /// A hasher already fed the git blob header for a file of `size` bytes.
    public static func gitBlob(size: Int64) -> SHA1 {
        var hasher = SHA1()
        hasher.update(Array("blob \(size)\0".utf8))
        return hasher
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        byteCount &+= UInt64(bytes.count)
        var offset = 0
        if !pending.isEmpty {
            offset = pending.fill(from: bytes)
            guard pending.isFull else { return }
            let block = pending  // a copy: compressing mutates self, which holds `pending`
            block.withBytes { compress($0) }
            pending.reset()
        }
        while bytes.count - offset >= 64 {
            compress(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 64)]))
            offset += 64
        }
        if offset < bytes.count {
            _ = pending.fill(from: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        }
    }

    public mutating func finalizeHex() -> String {
        let bitLength = byteCount &* 8
        var tail: [UInt8] = [0x80]
        let used = Int(byteCount % 64)
        tail.append(contentsOf: repeatElement(0, count: used < 56 ? 55 - used : 119 - used))
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        update(tail)
        let words = [state.0, state.1, state.2, state.3, state.4]
        return hexString(words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(24 - 8 * $0)) } })
    }

    private mutating func compress(_ block: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
            for i in 0..<16 {
                w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = (x << 1) | (x >> 31)
            }
            var (a, b, c, d, e) = state
            for i in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5a82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ed9_eba1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8f1b_bcdc
                default: f = b ^ c ^ d; k = 0xca62_c1d6
                }
                let t = ((a << 5) | (a >> 27)) &+ f &+ e &+ k &+ w[i]
                e = d; d = c; c = (b << 30) | (b >> 2); b = a; a = t
            }
            state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
        }
    }
}
