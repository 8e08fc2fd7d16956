/// Holds the tail of the input that does not yet fill a 64-byte block, shared by SHA-1 and SHA-256.
struct BlockBuffer: Sendable {
    private var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(64) }

    var isFull: Bool { bytes.count == 64 }
    var isEmpty: Bool { bytes.isEmpty }

    /// Appends from `source` until the block is full or the source is empty; returns how many bytes were taken.
    mutating func fill(from source: UnsafeRawBufferPointer) -> Int {
        let taken = min(64 - bytes.count, source.count)
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: source[0..<taken]))
        return taken
    }

    mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes(body)
    }
}

/// Lowercase hex, the spelling the hub uses for commit ids and ETags.
func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}
