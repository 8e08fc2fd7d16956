import KataribeHub
import Testing

@Suite("Hashes the hub names blobs by", .timeLimit(.minutes(1)))
struct HashingTests {
    @Test("SHA-256 matches the FIPS 180-4 test vectors")
    func sha256Vectors() {
        #expect(SHA256.hash([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hash(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("feeding SHA-256 in uneven pieces gives the same digest", arguments: [1, 7, 63, 64, 65, 1000])
    func sha256Streaming(piece: Int) {
        let data = pseudoRandomBytes(10_001, seed: 9)
        var hasher = SHA256()
        var offset = 0
        while offset < data.count {
            hasher.update(Array(data[offset..<min(offset + piece, data.count)]))
            offset += piece
        }
        #expect(hasher.finalizeHex() == SHA256.hash(data))
    }

    @Test("SHA-1 matches the FIPS 180-4 test vectors")
    func sha1Vectors() {
        var abc = SHA1()
        abc.update(Array("abc".utf8))
        #expect(abc.finalizeHex() == "a9993e364706816aba3e25717850c26c9cd0d89d")
        var million = SHA1()
        million.update(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
        #expect(million.finalizeHex() == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test("git blob ids match `git hash-object`")
    func gitBlobIDs() {
        #expect(SHA1.gitBlobID(of: []) == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        #expect(SHA1.gitBlobID(of: Array("hello\n".utf8)) == "ce013625030ba8dba906f756967f9e9ca394464a")
        #expect(SHA1.gitBlobID(of: Array(repeating: UInt8(ascii: "x"), count: 200)) == "debcf03c10222209e6ac75be3fa2c1796d204d91")
    }

    @Test("feeding a git blob hasher in uneven pieces gives the blob id", arguments: [1, 63, 64, 65, 4096])
    func gitBlobStreaming(piece: Int) {
        let data = pseudoRandomBytes(10_001, seed: 4)
        var hasher = SHA1.gitBlob(size: Int64(data.count))
        var offset = 0
        while offset < data.count {
            data[offset..<min(offset + piece, data.count)].withUnsafeBytes { hasher.update($0) }
            offset += piece
        }
        #expect(hasher.finalizeHex() == SHA1.gitBlobID(of: data))
    }

    @Test("finalizing leaves the hasher as it was, so a digest can be read twice")
    func finalizeIsRepeatable() {
        var hasher = SHA256()
        hasher.update(Array("abc".utf8))
        #expect(hasher.finalizeHex() == hasher.finalizeHex())
    }
}

@Suite("Progress text", .timeLimit(.minutes(1)))
struct ProgressTextTests {
    @Test("byte counts use binary units with their IEC names, the one unit system of the CLI")
    func readBytes() {
        #expect(ByteCountText.format(999) == "999 B")
        #expect(ByteCountText.format(1_023) == "1023 B")
        #expect(ByteCountText.format(1_536) == "1.50 KiB")
        #expect(ByteCountText.format(250 << 20) == "250 MiB")
        #expect(ByteCountText.format(13_900_000_000) == "12.9 GiB")
        #expect(ByteCountText.rate(Double(5 << 20)) == "5.00 MiB/s")
    }

    @Test("durations read m:ss or h:mm:ss, unknown as --:--")
    func durations() {
        #expect(ByteCountText.duration(75) == "1:15")
        #expect(ByteCountText.duration(3_725) == "1:02:05")
        #expect(ByteCountText.duration(nil) == "--:--")
    }
}
