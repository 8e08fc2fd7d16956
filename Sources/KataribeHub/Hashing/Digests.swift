import Crypto

// The hub names LFS blobs by their SHA-256 and small git files by their git blob SHA-1, so every
// download is hashed while it streams in. swift-crypto does the hashing (BoringSSL's assembly on
// Linux, CryptoKit on Apple platforms), several times faster than Swift code could; these types
// only keep the small streaming interface the downloader, the fake hub and the compare seeds use,
// with digests spelled as the hub spells them.

/// Streaming SHA-256 (FIPS 180-4).
public struct SHA256: Sendable {
    private var hasher = Crypto.SHA256()

    public init() {}

    /// Hashes `bytes` in one call, as lowercase hex.
    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(Array(bytes))
        return hasher.finalizeHex()
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    /// The digest as 64 lowercase hex digits (the form the hub uses in ETags).
    public func finalizeHex() -> String {
        hexString(finalize())
    }

    public func finalize() -> [UInt8] {
        Array(hasher.finalize())
    }
}

/// Streaming SHA-1, only for git blob ids: the hub's ETag for a file kept in git (not LFS) is
/// `sha1("blob <size>\0" + content)`, which lets small files be verified like LFS ones.
public struct SHA1: Sendable {
    private var hasher = Insecure.SHA1()

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
        hasher.update(bufferPointer: bytes)
    }

    /// The digest as 40 lowercase hex digits.
    public func finalizeHex() -> String {
        hexString(Array(hasher.finalize()))
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
