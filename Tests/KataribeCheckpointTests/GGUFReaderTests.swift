import Foundation
import Testing
import KataribeTensor
import KataribeTestSupport
@testable import KataribeCheckpoint

/// GGUF header bytes written by hand, for inputs the writer would never produce.
struct GGUFBytes {
    var bytes: [UInt8] = []

    /// Magic, version and the two counts.
    init(version: UInt32 = 3, tensors: UInt64 = 0, entries: UInt64 = 0, magic: String = "GGUF") {
        bytes = Array(magic.utf8)
        u32(version)
        u64(tensors)
        u64(entries)
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func i64(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ utf8: [UInt8]) { u64(UInt64(utf8.count)); bytes += utf8 }
    mutating func string(_ text: String) { string(Array(text.utf8)) }

    /// A metadata entry `key: UINT32 value`.
    mutating func entry(_ key: String, uint32 value: UInt32) { string(key); u32(GGUFValueType.uint32.rawValue); u32(value) }

    /// A tensor entry.
    mutating func tensor(_ name: String, dimensions: [Int64], type: UInt32 = GGMLType.f32.rawValue, offset: UInt64 = 0) {
        string(name)
        u32(UInt32(dimensions.count))
        for dimension in dimensions { i64(dimension) }
        u32(type)
        u64(offset)
    }

    /// Zero bytes up to the next multiple of `alignment`, then `count` data bytes.
    mutating func data(_ count: Int, alignment: Int = 32) {
        bytes += [UInt8](repeating: 0, count: (alignment - bytes.count % alignment) % alignment)
        bytes += [UInt8](repeating: 0x5A, count: count)
    }
}

func readGGUF(_ bytes: [UInt8], name: String = "model.gguf") throws -> GGUFFile {
    try GGUFFile.read(url: writeTemporaryFile(bytes, name: name))
}

/// The error reading `bytes` ends in (checking that it names the file), or nil when it was read.
func ggufError(_ bytes: [UInt8]) throws -> CheckpointError? {
    let url = try writeTemporaryFile(bytes, name: "model.gguf")
    do {
        _ = try GGUFFile.read(url: url)
        return nil
    } catch {
        #expect(error.file == url.path)
        #expect(error.description.hasPrefix(url.path + ": "))
        return error
    }
}

/// A small valid file with every kind of metadata value and tensors of several types.
func sampleGGUF(alignment: UInt32? = nil) -> GGUFWriter {
    var writer = GGUFWriter()
    writer.add("general.architecture", .string("llama"))
    if let alignment { writer.add("general.alignment", .uint32(alignment)) }
    writer.add("u8", .uint8(200))
    writer.add("i8", .int8(-100))
    writer.add("u16", .uint16(60_000))
    writer.add("i16", .int16(-30_000))
    writer.add("u32", .uint32(4_000_000_000))
    writer.add("i32", .int32(-2_000_000_000))
    writer.add("u64", .uint64(UInt64.max))
    writer.add("i64", .int64(Int64.min))
    writer.add("f32", .float32(0.15625))
    writer.add("f64", .float64(-1e300))
    writer.add("yes", .bool(true))
    writer.add("no", .bool(false))
    writer.add("text", .string("吾輩は猫である\n"))
    writer.add("empty.text", .string(""))
    writer.add("tokens", .array(.string(["<s>", "</s>", "▁猫", "", "🍣"])))
    writer.add("scores", .array(.float32([0, -1.5, 3.25])))
    writer.add("types", .array(.int32([1, 3, 6])))
    writer.add("flags", .array(.bool([true, false])))
    writer.add("wide", .array(.uint64([0, UInt64(Int.max)])))
    writer.add("empty.array", .array(.uint16([])))
    for (type, array) in [(GGUFValueType.uint8, GGUFArray.uint8([1, 2])), (.int8, .int8([-1])), (.int16, .int16([-2])),
                          (.uint32, .uint32([7])), (.int64, .int64([-9])), (.float64, .float64([0.5]))] {
        writer.add("array.\(type)", .array(array))
    }
    writer.addTensor("token_embd.weight", floats: (0..<12).map { Float($0) }, shape: [4, 3])
    writer.addTensor("blk.0.attn_q.weight", type: .q4_0, dimensions: [64, 2], bytes: (0..<72).map { UInt8($0) })
    writer.addTensor("blk.0.ffn_down.weight", type: .q4_K, dimensions: [256, 1], bytes: [UInt8](repeating: 7, count: 144))
    writer.addTensor("output_norm.weight", type: .f16, dimensions: [3], bytes: [0x00, 0x3C, 0x00, 0x40, 0x00, 0xC0])
    return writer
}

@Suite("GGUF reader")
struct GGUFReaderTests {
    // MARK: Reading what the writer wrote

    @Test("a written file reads back: every value type, metadata in file order, tensors with ggml dimensions and torch shapes")
    func roundTrip() throws {
        let writer = sampleGGUF()
        let file = try readGGUF(writer.encode())
        #expect(file.version == 3)
        #expect(file.alignment == 32)
        #expect(file.dataOffset % 32 == 0)
        #expect(file.metadataKeys == writer.metadata.map(\.key))
        for (key, value) in writer.metadata { #expect(file[key] == value, "\(key)") }
        #expect(file.architecture == "llama")
        #expect(file["empty.array"]?.array?.elementType == .uint16)

        #expect(file.tensors.map(\.name) == writer.tensors.map(\.name))
        let embedding = try #require(file.tensor(named: "token_embd.weight"))
        #expect(embedding.dimensions == [3, 4])
        #expect(embedding.shape == [4, 3])
        #expect(embedding.type == .f32)
        #expect(embedding.byteCount == 48)
        #expect(embedding.offset == 0)
        let dense = try #require(file.denseTensor(embedding))
        #expect(dense.dtype == .float32 && dense.shape == [4, 3])
        #expect(dense.floats() == (0..<12).map { Float($0) })

        let quantized = try #require(file.tensor(named: "blk.0.attn_q.weight"))
        #expect(quantized.offset == 64)  // 48 bytes padded to 32
        #expect(quantized.byteCount == 72)
        #expect(file.denseTensor(quantized) == nil)
        let raw = file.bytes(of: quantized)
        #expect(raw.dtype == .uint8 && raw.shape == [72])
        #expect(Array(raw.bytes) == (0..<72).map { UInt8($0) })
        #expect(file.tensor(named: "blk.0.ffn_down.weight")?.offset == 160)

        let norm = try #require(file.tensor(named: "output_norm.weight"))
        #expect(file.denseTensor(norm)?.floats() == [1, 2, -2])
        #expect(file.tensor(named: "missing") == nil)
    }

    @Test("version 2 files (the same layout as 3) are read; a custom general.alignment moves the data section and the offsets")
    func versionTwoAndAlignment() throws {
        var writer = sampleGGUF(alignment: 64)
        writer.version = 2
        let file = try readGGUF(writer.encode())
        #expect(file.version == 2)
        #expect(file.alignment == 64)
        #expect(file.dataOffset % 64 == 0)
        #expect(file.tensors.map(\.offset) == [0, 64, 192, 384])
        #expect(Array(file.bytes(of: file.tensors[1]).bytes) == (0..<72).map { UInt8($0) })
    }

    @Test("a file without tensors (a vocabulary-only file) is read; its data section starts where the header ends")
    func noTensors() throws {
        var writer = GGUFWriter()
        writer.add("tokenizer.ggml.tokens", .array(.string(["a", "b"])))
        let bytes = writer.encode()
        let file = try readGGUF(bytes)
        #expect(file.tensors.isEmpty)
        #expect(file.dataOffset == bytes.count)
        #expect(file.architecture == nil)
    }

    @Test("value accessors: integers of any width that fit Int, floats only from float types, typed arrays without conversion")
    func accessors() {
        #expect(GGUFValue.uint8(7).int == 7)
        #expect(GGUFValue.int64(-5).int == -5)
        #expect(GGUFValue.uint64(UInt64(Int.max)).int == Int.max)
        #expect(GGUFValue.uint64(UInt64(Int.max) + 1).int == nil)
        #expect(GGUFValue.float32(1.5).int == nil)
        #expect(GGUFValue.float32(1.5).float == 1.5)
        #expect(GGUFValue.float64(0.25).float == 0.25)
        #expect(GGUFValue.uint32(1).float == nil)
        #expect(GGUFValue.bool(true).bool == true)
        #expect(GGUFValue.uint8(1).bool == nil)
        #expect(GGUFValue.string("x").string == "x")
        #expect(GGUFValue.array(.string(["a"])).stringArray == ["a"])
        #expect(GGUFValue.array(.int32([1])).stringArray == nil)
        #expect(GGUFValue.array(.float64([0.5])).floatArray == [0.5])
        #expect(GGUFValue.array(.int8([-1, 2])).intArray == [-1, 2])
        #expect(GGUFValue.array(.uint64([UInt64.max])).intArray == nil)
        #expect(GGUFValue.array(.float32([1])).intArray == nil)
        #expect(GGUFArray.bool([true, false]).elements == [.bool(true), .bool(false)])
        #expect(GGUFArray.uint16([]).isEmpty)
    }

    @Test("a 262,144-entry vocabulary with its scores and token types parses in well under a few seconds, even in a debug build")
    func largeVocabulary() throws {
        let count = 262_144
        var writer = GGUFWriter()
        writer.add("tokenizer.ggml.tokens", .array(.string((0..<count).map { $0 % 7 == 0 ? "▁トークン\($0)" : "<unused\($0)>" })))
        writer.add("tokenizer.ggml.scores", .array(.float32((0..<count).map { -Float($0) })))
        writer.add("tokenizer.ggml.token_type", .array(.int32([Int32](repeating: 1, count: count))))
        let url = try writeTemporaryFile(writer.encode(), name: "vocab.gguf")
        let clock = ContinuousClock()
        var file: GGUFFile?
        let elapsed = try clock.measure { file = try GGUFFile.read(url: url) }
        let tokens = try #require(file?["tokenizer.ggml.tokens"]?.stringArray)
        #expect(tokens.count == count)
        #expect(tokens[7] == "▁トークン7" && tokens[count - 2] == "<unused262142>")
        #expect(file?["tokenizer.ggml.scores"]?.floatArray?.last == -Float(count - 1))
        print("GGUF: \(count)-token vocabulary parsed in \(elapsed)")
        #expect(elapsed < .seconds(5))
    }

    // MARK: Hostile files

    @Test("a file that is not GGUF, is too short, or has an unsupported version is refused with the reason")
    func magicAndVersion() throws {
        #expect(try ggufError([])?.reason == .truncated("0 bytes is shorter than the 4-byte GGUF magic"))
        #expect(try ggufError(Array("GGU".utf8))?.reason == .truncated("3 bytes is shorter than the 4-byte GGUF magic"))
        #expect(try ggufError(GGUFBytes(magic: "GGML").bytes)?.reason == .notGGUF(magic: Array("GGML".utf8)))
        let safetensorsLike: [UInt8] = [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8)
        #expect(try ggufError(safetensorsLike)?.reason == .notGGUF(magic: [8, 0, 0, 0]))

        let v1 = try #require(try ggufError(GGUFBytes(version: 1).bytes))
        #expect(v1.reason == .unsupportedGGUFVersion(1))
        #expect(v1.description.contains("32-bit counts"))
        #expect(try ggufError(GGUFBytes(version: 4).bytes)?.reason == .unsupportedGGUFVersion(4))
        #expect(try ggufError(GGUFBytes(version: 0).bytes)?.reason == .unsupportedGGUFVersion(0))
        let bigEndian = try #require(try ggufError(GGUFBytes(version: 0x0300_0000).bytes))
        #expect(bigEndian.description.contains("big-endian"))

        var header = GGUFBytes().bytes
        header.removeLast(3)
        guard case .truncated(let why) = try ggufError(header)?.reason else { Issue.record("accepted"); return }
        #expect(why.contains("metadata entry count"))
    }

    @Test("counts of 2^60 entries, tensors or array elements are refused before anything is allocated")
    func hugeCounts() throws {
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for bytes in [GGUFBytes(entries: 1 << 60).bytes, GGUFBytes(tensors: 1 << 60).bytes,
                          GGUFBytes(tensors: UInt64.max, entries: UInt64.max).bytes] {
                guard case .invalidGGUF(let why) = try ggufError(bytes + [UInt8](repeating: 0, count: 100))?.reason else {
                    Issue.record("not refused as a count"); continue
                }
                #expect(why.contains("bytes left"))
            }
            // A count that fits in the file only just: 14 bytes per entry is the least an entry takes.
            var exact = GGUFBytes(entries: 3)
            exact.bytes += [UInt8](repeating: 0, count: 41)
            guard case .invalidGGUF = try ggufError(exact.bytes)?.reason else { Issue.record("3 entries in 41 bytes"); return }

            for elementType in [GGUFValueType.uint8, .string, .uint64] {
                var array = GGUFBytes(entries: 1)
                array.string("tokenizer.ggml.tokens")
                array.u32(GGUFValueType.array.rawValue)
                array.u32(elementType.rawValue)
                array.u64(1 << 60)
                array.bytes += [UInt8](repeating: 0, count: 64)
                guard case .invalidGGUFValue(let key, let why) = try ggufError(array.bytes)?.reason else {
                    Issue.record("array of \(elementType) accepted"); continue
                }
                #expect(key == "tokenizer.ggml.tokens")
                #expect(why.contains("cannot fit"))
            }
        }
        #expect(elapsed < .seconds(2))
    }

    @Test("strings longer than what is left of the file are truncation errors, whatever length they claim")
    func stringsPastTheEnd() throws {
        for length: UInt64 in [20, 1 << 40, UInt64.max] {
            var key = GGUFBytes(entries: 1)
            key.u64(length)
            key.bytes += Array("general.name".utf8)
            guard case .truncated(let why) = try ggufError(key.bytes)?.reason else { Issue.record("\(length)"); continue }
            #expect(why.contains("key of metadata entry 0"))

            var value = GGUFBytes(entries: 1)
            value.string("general.name")
            value.u32(GGUFValueType.string.rawValue)
            value.u64(length)
            value.bytes += Array("abc".utf8)
            guard case .truncated(let valueWhy) = try ggufError(value.bytes)?.reason else { Issue.record("\(length)"); continue }
            #expect(valueWhy.contains("general.name"))
        }
    }

    @Test("unknown value types and arrays of arrays are refused, naming the key")
    func valueTypes() throws {
        func entry(type: UInt32, elementType: UInt32? = nil) -> [UInt8] {
            var bytes = GGUFBytes(entries: 1)
            bytes.string("odd.key")
            bytes.u32(type)
            if let elementType { bytes.u32(elementType); bytes.u64(1) }
            bytes.bytes += [UInt8](repeating: 0, count: 32)
            return bytes.bytes
        }
        for bytes in [entry(type: 13), entry(type: 0xFFFF_FFFF), entry(type: 9, elementType: 13), entry(type: 9, elementType: 9)] {
            guard case .invalidGGUFValue(let key, let why) = try ggufError(bytes)?.reason else { Issue.record("accepted"); continue }
            #expect(key == "odd.key")
            #expect(why.contains("unknown") || why.contains("arrays of arrays"))
        }
    }

    @Test("booleans other than 0 and 1 are refused, alone or in arrays")
    func booleans() throws {
        var scalar = GGUFBytes(entries: 1)
        scalar.string("tokenizer.ggml.add_bos_token")
        scalar.u32(GGUFValueType.bool.rawValue)
        scalar.u8(2)
        #expect(try ggufError(scalar.bytes)?.reason
            == .invalidGGUFValue(key: "tokenizer.ggml.add_bos_token", reason: "boolean byte 2 is neither 0 nor 1"))
        var array = GGUFBytes(entries: 1)
        array.string("flags")
        array.u32(GGUFValueType.array.rawValue)
        array.u32(GGUFValueType.bool.rawValue)
        array.u64(3)
        array.bytes += [1, 0, 255]
        #expect(try ggufError(array.bytes)?.reason == .invalidGGUFValue(key: "flags", reason: "element 2: boolean byte 255 is neither 0 nor 1"))
    }

    @Test("keys must be non-empty UTF-8 without NULs, at most 65,535 bytes, and unique")
    func keys() throws {
        func file(key: [UInt8], twice: Bool = false) -> [UInt8] {
            var bytes = GGUFBytes(entries: twice ? 2 : 1)
            for _ in 0..<(twice ? 2 : 1) {
                bytes.string(key)
                bytes.u32(GGUFValueType.uint8.rawValue)
                bytes.u8(1)
            }
            // Room for more: an entry with an empty key is shorter than any valid entry, and the
            // count check would refuse it before the key is looked at.
            return bytes.bytes + [UInt8](repeating: 0, count: 8)
        }
        for key: [UInt8] in [[0xFF, 0x41], [0xC3], Array("a".utf8) + [0xED, 0xA0, 0x80], [], [0x61, 0, 0x62],
                             [UInt8](repeating: 0x61, count: 65_536)] {
            guard case .invalidGGUFKey = try ggufError(file(key: key))?.reason else { Issue.record("key \(key.prefix(8)) accepted"); continue }
        }
        #expect(try ggufError(file(key: Array("general.name".utf8), twice: true))?.reason == .duplicateGGUFKey("general.name"))
        #expect(try ggufError(file(key: [UInt8](repeating: 0x61, count: 65_535))) == nil)
    }

    @Test("string values that are not UTF-8 are refused, naming the key and the element")
    func invalidTextValues() throws {
        var scalar = GGUFBytes(entries: 1)
        scalar.string("general.name")
        scalar.u32(GGUFValueType.string.rawValue)
        scalar.string([0x41, 0xFF])
        guard case .invalidGGUFValue("general.name", let why) = try ggufError(scalar.bytes)?.reason else { Issue.record("accepted"); return }
        #expect(why.hasPrefix("the string is not valid UTF-8"))

        var array = GGUFBytes(entries: 1)
        array.string("tokenizer.ggml.tokens")
        array.u32(GGUFValueType.array.rawValue)
        array.u32(GGUFValueType.string.rawValue)
        array.u64(3)
        array.string("a")
        array.string("b")
        array.string([0xE3, 0x81])  // a cut-off 'あ'
        guard case .invalidGGUFValue("tokenizer.ggml.tokens", let arrayWhy) = try ggufError(array.bytes)?.reason else {
            Issue.record("accepted"); return
        }
        #expect(arrayWhy.hasPrefix("string 2 of the array is not valid UTF-8"))
    }

    @Test("general.alignment must be a UINT32 power of two")
    func alignment() throws {
        for value in [GGUFValue.uint64(32), .int32(32), .string("32"), .uint32(0), .uint32(48), .uint32(0xFFFF_FFFF)] {
            var writer = sampleGGUF()
            writer.add("general.alignment", value)
            guard case .invalidGGUFValue("general.alignment", _) = try ggufError(writer.encode())?.reason else {
                Issue.record("\(value) accepted"); continue
            }
        }
        var one = sampleGGUF(alignment: 1)
        one.tensors.removeAll { $0.type != .f32 && $0.type != .f16 }
        let file = try readGGUF(one.encode())
        #expect(file.alignment == 1)
        #expect(file.tensors.map(\.offset) == [0, 48])
        #expect(file.denseTensor(file.tensors[1])?.floats() == [1, 2, -2])  // unaligned data, converted all the same
    }

    @Test("tensor names must be unique, non-empty UTF-8 of at most 63 bytes without NULs")
    func tensorNames() throws {
        func file(_ names: [[UInt8]]) -> [UInt8] {
            var bytes = GGUFBytes(tensors: UInt64(names.count))
            for (index, name) in names.enumerated() {
                bytes.string(name)
                bytes.u32(1)
                bytes.i64(4)
                bytes.u32(GGMLType.f32.rawValue)
                bytes.u64(UInt64(index * 32))
            }
            bytes.data(names.count * 32)
            return bytes.bytes
        }
        #expect(try ggufError(file([Array("a".utf8), Array("b".utf8)])) == nil)
        #expect(try ggufError(file([Array("w".utf8), Array("w".utf8)]))?.reason == .duplicateTensor("w"))
        #expect(try ggufError(file([[UInt8](repeating: 0x61, count: 63)])) == nil)
        for name: [UInt8] in [[UInt8](repeating: 0x61, count: 64), [], [0x80], [0x61, 0]] {
            guard case .invalidGGUFTensor = try ggufError(file([name]))?.reason else { Issue.record("name \(name.prefix(8)) accepted"); continue }
        }
    }

    @Test("shapes: 1 to 4 dimensions, each at least 1, whose element and byte counts do not overflow")
    func shapes() throws {
        func reason(_ dimensions: [Int64], type: GGMLType = .f32) throws -> String? {
            var bytes = GGUFBytes(tensors: 1)
            bytes.tensor("w", dimensions: dimensions, type: type.rawValue)
            bytes.data(64)
            guard let error = try ggufError(bytes.bytes) else { return nil }
            guard case .invalidGGUFTensor("w", let why) = error.reason else { return "\(error)" }
            return why
        }
        #expect(try reason([]) == "0 dimensions (GGUF tensors have 1 to 4)")
        #expect(try reason([1, 1, 1, 1, 1]) == "5 dimensions (GGUF tensors have 1 to 4)")
        #expect(try reason([4, 0]) == "dimension 1 is 0")
        #expect(try reason([-4]) == "dimension 0 is -4")
        #expect(try reason([Int64.min]) == "dimension 0 is \(Int64.min)")
        #expect(try reason([1 << 32, 1 << 32])?.contains("overflows") == true)
        #expect(try reason([1 << 62], type: .f32)?.contains("byte count") == true)
        #expect(try reason([2, 2, 2, 2]) == nil)
    }

    @Test("tensor types: unknown ids, types ggml removed and types Kataribe cannot compute with are refused; rows must be whole blocks")
    func tensorTypes() throws {
        func reason(type: UInt32, rowLength: Int64 = 256) throws -> String? {
            var bytes = GGUFBytes(tensors: 1)
            bytes.tensor("blk.0.attn_k.weight", dimensions: [rowLength], type: type)
            bytes.data(2048)
            guard let error = try ggufError(bytes.bytes) else { return nil }
            guard case .invalidGGUFTensor("blk.0.attn_k.weight", let why) = error.reason else { return "\(error)" }
            return why
        }
        #expect(try reason(type: 99) == "unknown ggml type 99")
        #expect(try reason(type: 4) == "type Q4_2 (4) was removed from ggml and has no block size")
        #expect(try reason(type: 16) == "type IQ2_XXS (16) is not supported by Kataribe")
        #expect(try reason(type: GGMLType.q4_0.rawValue, rowLength: 48)
            == "its rows have 48 elements, not a multiple of the Q4_0 block size 32")
        #expect(try reason(type: GGMLType.q6_K.rawValue, rowLength: 128)
            == "its rows have 128 elements, not a multiple of the Q6_K block size 256")
        for type in GGMLType.allCases { #expect(try reason(type: type.rawValue) == nil, "\(type)") }
    }

    @Test("tensors must lie back to back in header order, each aligned; overlaps, gaps and misaligned offsets are refused")
    func layout() throws {
        func file(offsets: [UInt64], dataBytes: Int = 96) -> [UInt8] {
            var bytes = GGUFBytes(tensors: UInt64(offsets.count))
            for (index, offset) in offsets.enumerated() { bytes.tensor("t\(index)", dimensions: [4], offset: offset) }
            bytes.data(dataBytes)
            return bytes.bytes
        }
        #expect(try ggufError(file(offsets: [0, 32, 64])) == nil)
        #expect(try ggufError(file(offsets: [0, 0]))?.reason == .overlappingTensors("t0", "t1"))
        #expect(try ggufError(file(offsets: [0, 64, 32]))?.reason == .misplacedGGUFTensor(tensor: "t1", offset: 64, expected: 32))
        #expect(try ggufError(file(offsets: [32]))?.reason == .misplacedGGUFTensor(tensor: "t0", offset: 32, expected: 0))
        #expect(try ggufError(file(offsets: [0, 16]))?.reason
            == .invalidGGUFTensor(tensor: "t1", reason: "data offset 16 is not a multiple of the alignment 32"))
        #expect(try ggufError(file(offsets: [0, UInt64.max - 31]))?.reason
            == .invalidGGUFTensor(tensor: "t1", reason: "data offset 18446744073709551584 is beyond any file"))
        let description = try #require(try ggufError(file(offsets: [0, 64]))?.description)
        #expect(description.contains("(a gap of 32 bytes)"))
    }

    @Test("tensors past the end of the file and a data section that would start past it are refused")
    func pastTheEnd() throws {
        var bytes = GGUFBytes(tensors: 2)
        bytes.tensor("a", dimensions: [4])
        bytes.tensor("b", dimensions: [8], offset: 32)
        let header = bytes.bytes
        bytes.data(32 + 31)
        #expect(try ggufError(bytes.bytes)?.reason == .offsetOutOfBounds(tensor: "b", end: 64, available: 63))
        guard case .truncated(let why) = try ggufError(header)?.reason else { Issue.record("accepted"); return }
        #expect(why.contains("data section would start"))
        // The padding after the last tensor may be missing: llama.cpp's loader does not need it.
        var unpadded = GGUFBytes(tensors: 1)
        unpadded.tensor("a", dimensions: [3])
        unpadded.data(12)
        #expect(try ggufError(unpadded.bytes) == nil)
    }

    @Test("every cut of a valid file (each byte through the header, then every 16th) and every one-bit flip of its header ends in a typed error or a parse")
    func everyPrefix() throws {
        let bytes = sampleGGUF().encode()
        let dataStart = try readGGUF(bytes).dataOffset
        let directory = try temporaryDirectory()
        let url = directory.appendingPathComponent("model.gguf")
        var refused = 0
        for length in stride(from: 0, to: bytes.count, by: 1) where length <= dataStart + 4 || length % 16 == 0 {
            try Data(bytes[..<length]).write(to: url)
            do { _ = try GGUFFile.read(url: url) } catch { refused += 1 }
        }
        #expect(refused > 0)
        var flipped = 0
        for position in 0..<dataStart {
            var corrupt = bytes
            corrupt[position] ^= UInt8(1 << (position % 8))
            try Data(corrupt).write(to: url)
            do {
                let file = try GGUFFile.read(url: url)
                for tensor in file.tensors { _ = file.bytes(of: tensor).bytes.reduce(0) { $0 &+ Int($1) } }
            } catch { flipped += 1 }
        }
        #expect(flipped > 0)
    }

    @Test("a directory or a missing path is an open error naming the path; control characters in names are escaped in messages")
    func openingAndMessages() throws {
        let directory = try temporaryDirectory()
        guard case .cannotOpen(let why) = failure({ _ = try GGUFFile.read(url: directory) }) else {
            Issue.record("directory accepted"); return
        }
        #expect(why.contains("directory"))
        guard case .cannotOpen = failure({ _ = try GGUFFile.read(url: directory.appendingPathComponent("absent.gguf")) }) else {
            Issue.record("missing file"); return
        }
        var bytes = GGUFBytes(entries: 2)
        bytes.entry("evil\u{1B}[2J", uint32: 1)
        bytes.entry("evil\u{1B}[2J", uint32: 1)
        let error = try #require(try ggufError(bytes.bytes))
        #expect(error.description.contains("evil\\u{1B}[2J"))
        #expect(!error.description.contains("\u{1B}"))
    }
}

/// The fuzz target's seeds (Tests/Fuzz/seeds/gguf), made by `GGUFWriter`: small files that between
/// them hold every value type, every tensor layout rule and both versions.
enum GGUFFuzzSeeds {
    static var all: [(name: String, bytes: [UInt8])] {
        var vocabulary = GGUFWriter()
        vocabulary.add("general.architecture", .string("gemma3"))
        vocabulary.add("gemma3.context_length", .uint32(32_768))
        vocabulary.add("gemma3.attention.layer_norm_rms_epsilon", .float32(1e-6))
        vocabulary.add("tokenizer.ggml.model", .string("llama"))
        let tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "<0x0A>", "▁", "▁the", "ing", "吾輩", "は", "猫", "🍣"]
        vocabulary.add("tokenizer.ggml.tokens", .array(.string(tokens)))
        vocabulary.add("tokenizer.ggml.scores", .array(.float32(tokens.indices.map { -Float($0) })))
        vocabulary.add("tokenizer.ggml.token_type", .array(.int32(tokens.indices.map { $0 < 4 ? 3 : 1 })))
        vocabulary.add("tokenizer.ggml.merges", .array(.string(["▁ t", "▁t he", "i ng"])))
        vocabulary.add("tokenizer.ggml.bos_token_id", .uint32(2))
        vocabulary.add("tokenizer.ggml.add_bos_token", .bool(true))
        vocabulary.addTensor("token_embd.weight", type: .q8_0, dimensions: [32, 12], bytes: [UInt8](repeating: 0x11, count: 34 * 12))

        var version2 = GGUFWriter()
        version2.version = 2
        version2.add("general.alignment", .uint32(64))
        version2.add("general.architecture", .string("llama"))
        version2.add("llama.rope.freq_base", .float64(10_000))
        version2.add("sizes", .array(.uint64([1, 2, 3])))
        version2.addTensor("blk.0.attn_norm.weight", type: .bf16, dimensions: [8], bytes: [UInt8](repeating: 0x3F, count: 16))
        version2.addTensor("blk.0.ffn_gate.weight", type: .q4_1, dimensions: [32, 1, 2, 1], bytes: [UInt8](repeating: 0x22, count: 40))
        version2.addTensor("blk.0.ffn_up.weight", type: .q5_K, dimensions: [256, 1], bytes: [UInt8](repeating: 0x33, count: 176))

        return [("everything.gguf", sampleGGUF().encode()), ("vocabulary.gguf", vocabulary.encode()),
                ("version2-aligned64.gguf", version2.encode())]
    }
}

/// The reader against gguf-py on real files (too large to commit: their summary is, in
/// Tests/Fixtures/gguf/summaries.json, made by tools/fixtures/summarize_gguf.py).
@Suite("GGUF reader on real files")
struct GGUFRealFileTests {
    static let directory = TestPaths.ggufCache
    static let fileNames = TestPaths.RealGGUF.allCases.map(\.rawValue)
    static var filesPresent: Bool { TestPaths.RealGGUF.allCases.allSatisfy { TestPaths.realGGUF($0) != nil } }

    /// Whether a value read by Kataribe equals what gguf-py wrote into the summary.
    func matches(_ value: GGUFValue, _ json: Any?) -> Bool {
        switch value {
        case .string(let text): return json as? String == text
        case .bool(let flag): return json as? Bool == flag
        case .float32(let number): return (json as? NSNumber)?.doubleValue == Double(number)
        case .float64(let number): return (json as? NSNumber)?.doubleValue == number
        case .uint64(let number): return (json as? NSNumber)?.uint64Value == number
        case .array: return false
        default: return value.int.map { Int64($0) } == (json as? NSNumber)?.int64Value
        }
    }

    @Test("metadata (keys in order, types, values, array lengths and ends) and tensor entries equal gguf-py's",
          .enabled(if: filesPresent, "the real GGUF files are not in $KATARIBE_GGUF_CACHE or ~/.cache/kataribe/gguf"))
    func sameAsGGUFPy() throws {
        let summaryData = try Data(contentsOf: TestPaths.fixture("gguf/summaries.json"))
        let summary = try #require(try JSONSerialization.jsonObject(with: summaryData) as? [String: Any])
        let files = try #require(summary["files"] as? [String: [String: Any]])
        for name in Self.fileNames {
            let expected = try #require(files[name])
            let clock = ContinuousClock()
            var read: GGUFFile?
            let elapsed = try clock.measure { read = try GGUFFile.read(url: Self.directory.appendingPathComponent(name)) }
            let file = try #require(read)
            print("GGUF: \(name) (\(file.metadataKeys.count) keys, \(file.tensors.count) tensors) read in \(elapsed)")
            #expect(file.file.size == expected["size"] as? Int)
            #expect(Int(file.version) == expected["version"] as? Int)
            #expect(file.alignment == expected["alignment"] as? Int)
            #expect(file.dataOffset == expected["data_offset"] as? Int)

            let metadata = try #require(expected["metadata"] as? [[String: Any]])
            #expect(file.metadataKeys == metadata.compactMap { $0["key"] as? String })
            for entry in metadata {
                let key = try #require(entry["key"] as? String)
                let value = try #require(file[key])
                #expect(value.type.description == entry["type"] as? String, "\(key)")
                if let array = value.array {
                    #expect(array.elementType.description == entry["element_type"] as? String, "\(key)")
                    #expect(array.count == entry["count"] as? Int, "\(key)")
                    if !array.isEmpty {
                        #expect(matches(array[0], entry["first"]), "\(key) first")
                        #expect(matches(array[array.count - 1], entry["last"]), "\(key) last")
                    }
                } else {
                    #expect(matches(value, entry["value"]), "\(key): \(value)")
                }
            }

            let tensors = try #require(expected["tensors"] as? [[String: Any]])
            #expect(file.tensors.count == tensors.count)
            for (tensor, entry) in zip(file.tensors, tensors) {
                #expect(tensor.name == entry["name"] as? String)
                #expect(tensor.type.description == entry["type"] as? String, "\(tensor.name)")
                #expect(Int(tensor.type.rawValue) == entry["type_id"] as? Int, "\(tensor.name)")
                #expect(tensor.dimensions == entry["dimensions"] as? [Int], "\(tensor.name)")
                #expect(tensor.offset == entry["offset"] as? Int, "\(tensor.name)")
                #expect(tensor.byteCount == entry["byte_count"] as? Int, "\(tensor.name)")
            }
            // The last tensor's bytes are inside the mapping; an F32 norm reads as floats.
            if let last = file.tensors.last { #expect(file.bytes(of: last).bytes.count == last.byteCount) }
            let norm = try #require(file.tensor(named: "output_norm.weight"))
            #expect(file.denseTensor(norm)?.floats()?.count == norm.elementCount)
        }
    }

    @Test("the committed fuzz seeds are what GGUFWriter makes now, and read (KATARIBE_WRITE_FUZZ_SEEDS=1 rewrites them)")
    func fuzzSeeds() throws {
        let folder = TestPaths.packageRoot.appendingPathComponent("Tests/Fuzz/seeds/gguf")
        let rewrite = ProcessInfo.processInfo.environment["KATARIBE_WRITE_FUZZ_SEEDS"] == "1"
        for (name, bytes) in GGUFFuzzSeeds.all {
            let url = folder.appendingPathComponent(name)
            if rewrite {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try Data(bytes).write(to: url)
            }
            #expect(bytes.count < 4096, "\(name) is a small seed")
            #expect(try Array(Data(contentsOf: url)) == bytes, "\(name) is out of date: rerun with KATARIBE_WRITE_FUZZ_SEEDS=1")
            _ = try GGUFFile.read(url: url)
        }
    }
}
