import Foundation
import Testing
@testable import KataribeTokenizers

@Suite("UTF-8, normalization, tries and parsers")
struct SupportTests {
    @Test("lossy UTF-8 decoding replaces maximal ill-formed subparts, like Python and Rust", arguments: [
        ([0xE3, 0x81], "\u{FFFD}"),
        ([0xE3, 0x81, 0x41], "\u{FFFD}A"),
        ([0xF0, 0x9F, 0x98], "\u{FFFD}"),
        ([0xC0, 0xAF], "\u{FFFD}\u{FFFD}"),
        ([0xED, 0xA0, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),
        ([0xF4, 0x90, 0x80, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"),
        ([0x61, 0x80, 0x80, 0x62], "a\u{FFFD}\u{FFFD}b"),
        ([0xE0, 0x80, 0xAF], "\u{FFFD}\u{FFFD}\u{FFFD}"),
        ([0xF0, 0x9F, 0x98, 0x80, 0xFF], "😀\u{FFFD}"),
    ] as [([UInt8], String)])
    func lossyDecoding(bytes: [UInt8], expected: String) {
        #expect(UTF8Bytes.lossyString(bytes).unicodeScalars.elementsEqual(expected.unicodeScalars))
    }

    @Test("normalization forms match Python's unicodedata on composed, decomposed and compatibility text")
    func normalizationForms() {
        func scalars(_ bytes: [UInt8]) -> [UInt32] { UTF8Bytes.scalars(bytes) }
        let text = Array("é café Å ｶﾞ ﬁ ㍻ ① 가\u{301} \u{2000}".utf8)
        #expect(scalars(NormalizationForm.nfc.apply(text)) == [0xE9, 0x20, 0x63, 0x61, 0x66, 0xE9, 0x20, 0xC5, 0x20, 0xFF76, 0xFF9E, 0x20, 0xFB01, 0x20, 0x337B, 0x20, 0x2460, 0x20, 0xAC00, 0x301, 0x20, 0x2002])
        #expect(scalars(NormalizationForm.nfkc.apply(text)) == [0xE9, 0x20, 0x63, 0x61, 0x66, 0xE9, 0x20, 0xC5, 0x20, 0x30AC, 0x20, 0x66, 0x69, 0x20, 0x5E73, 0x6210, 0x20, 0x31, 0x20, 0xAC00, 0x301, 0x20, 0x20])
        #expect(scalars(NormalizationForm.nfd.apply(Array("é가".utf8))) == [0x65, 0x301, 0x1100, 0x1161])
        #expect(scalars(NormalizationForm.nfkd.apply(Array("ｶﾞ①".utf8))) == [0x30AB, 0x3099, 0x31])
    }

    @Test("the quick-check tables only list scalars each form leaves alone")
    func quickCheckTables() {
        for form in [NormalizationForm.nfc, .nfd, .nfkc, .nfkd] {
            var scalar: UInt32 = 0x80
            while scalar < 0x30000 {
                defer { scalar += 97 }
                guard form.isStable(scalar), let value = Unicode.Scalar(scalar) else { continue }
                // Stable scalars, alone and followed by another stable scalar, are unchanged.
                let bytes = Array("\(Character(value))a".utf8)
                let string = String(decoding: bytes, as: UTF8.self)
                let normalized: String
                switch form {
                case .nfc: normalized = string.precomposedStringWithCanonicalMapping
                case .nfd: normalized = string.decomposedStringWithCanonicalMapping
                case .nfkc: normalized = string.decomposedStringWithCompatibilityMapping.precomposedStringWithCanonicalMapping
                case .nfkd: normalized = string.decomposedStringWithCompatibilityMapping
                }
                #expect(Array(normalized.utf8) == bytes, "\(form) U+\(String(scalar, radix: 16))")
            }
        }
    }

    @Test("double-array trie lookups agree with a dictionary")
    func doubleArrayTrie() {
        var generator = SeededGenerator(seed: 7)
        var keys: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        while keys.count < 3000 {
            let key = (0..<Int.random(in: 1...6, using: &generator)).map { _ in UInt8.random(in: 0x60...0x66, using: &generator) }
            if seen.insert(key).inserted { keys.append(key) }
        }
        let trie = DoubleArrayTrie(keys: keys, values: keys.indices.map(Int32.init))
        for (index, key) in keys.enumerated() { #expect(trie.lookup(key) == Int32(index)) }
        for _ in 0..<500 {
            let probe = (0..<Int.random(in: 1...8, using: &generator)).map { _ in UInt8.random(in: 0x60...0x67, using: &generator) }
            var expected: [(Int, Int32)] = []
            for length in 1...probe.count {
                if let index = keys.firstIndex(of: Array(probe[..<length])) { expected.append((length, Int32(index))) }
            }
            var found: [(Int, Int32)] = []
            probe.withUnsafeBufferPointer { buffer in trie.forEachPrefix(of: buffer, from: 0) { found.append(($0, $1)) } }
            #expect(found.map(\.0) == expected.map(\.0) && found.map(\.1) == expected.map(\.1))
        }
    }

    @Test("the JSON parser reads numbers, escapes and nesting exactly")
    func jsonParser() throws {
        let value = try JSONParser.parse(Array(#"{"a": [1, -2.5e3, 0.1, true, null], "b": "\u00e9\ud83d\ude00\n\"", "a": 3}"#.utf8))
        guard case let .object(object) = value else { Issue.record("not an object"); return }
        if case let .number(number)? = object["a"] { #expect(number == 3) } else { Issue.record("a") }
        if case let .string(string)? = object["b"] { #expect(string == "é😀\n\"") } else { Issue.record("b") }
        for bad in ["", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "[1] 2", "tru"] {
            #expect(throws: JSONParser.Failure.self, "\(bad)") { try JSONParser.parse(Array(bad.utf8)) }
        }
    }

    @Test("protobuf varints, negative int32 and fixed32 floats")
    func protobufReader() throws {
        // field 1 varint -1 (10 bytes), field 2 fixed32 1.5
        var reader = ProtobufReader(bytes: [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x15, 0x00, 0x00, 0xC0, 0x3F])
        let first = try reader.nextField()
        #expect(first?.number == 1 && first?.wireType == .varint)
        #expect(try reader.readInt32() == -1)
        let second = try reader.nextField()
        #expect(second?.number == 2 && second?.wireType == .fixed32)
        #expect(try reader.readFloat() == 1.5)
        #expect(try reader.nextField() == nil)
    }
}
