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

    @Test("git blob ids match `git hash-object`")
    func gitBlobIDs() {
        #expect(SHA1.gitBlobID(of: []) == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        #expect(SHA1.gitBlobID(of: Array("hello\n".utf8)) == "ce013625030ba8dba906f756967f9e9ca394464a")
        #expect(SHA1.gitBlobID(of: Array(repeating: UInt8(ascii: "x"), count: 200)) == SHA1.gitBlobID(of: Array(repeating: UInt8(ascii: "x"), count: 200)))
    }
}

@Suite("Progress text", .timeLimit(.minutes(1)))
struct ProgressTextTests {
    @Test("byte counts use decimal units like huggingface_hub's bars")
    func readBytes() {
        #expect(ByteCountText.format(999) == "999 B")
        #expect(ByteCountText.format(1_500) == "1.50 kB")
        #expect(ByteCountText.format(13_900_000_000) == "13.9 GB")
        #expect(ByteCountText.format(250_000_000) == "250 MB")
    }

    @Test("durations read m:ss or h:mm:ss, unknown as --:--")
    func durations() {
        #expect(ByteCountText.duration(75) == "1:15")
        #expect(ByteCountText.duration(3_725) == "1:02:05")
        #expect(ByteCountText.duration(nil) == "--:--")
    }
}
