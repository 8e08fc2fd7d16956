import Foundation
import Testing
import KataribeTensor
import KataribeTestSupport
@testable import KataribeCheckpoint

@Suite("safetensors")
struct SafetensorsTests {
    /// Raw header JSON + data section.
    func file(header: String, data: [UInt8]) -> [UInt8] {
        let json = Array(header.utf8)
        var length = UInt64(json.count).littleEndian
        return withUnsafeBytes(of: &length) { Array($0) } + json + data
    }

    @Test("a transformers-written file maps every tensor with its dtype and shape")
    func readsFixture() throws {
        let tensors = try SafetensorsReader.read(url: TestPaths.fixture("engine/models/seq-f32-safetensors/model.safetensors"))
        #expect(tensors.tensors.count == 2 * 12 + 4)
        let embed = try #require(tensors["gpt_neox.embed_in.weight"])
        #expect(embed.dtype == .float32)
        #expect(embed.shape == [250, 36])
        #expect(tensors.format == "safetensors")
    }

    @Test("a mapping lives exactly as long as the tensors that point into it")
    func mappingLifetime() throws {
        weak var file: MappedFile?
        var tensors: TensorCollection? = try {
            let mapped = try MappedFile(url: TestPaths.fixture("engine/models/seq-f32-safetensors/model.safetensors"))
            file = mapped
            return try SafetensorsReader.read(mapped)
        }()
        #expect(file != nil && tensors?["gpt_neox.embed_in.weight"] != nil)
        tensors = nil
        // A file that cached the storage pointing back at it never went away (nor did its mapping).
        #expect(file == nil)
    }

    @Test("what the writer writes, the reader reads back, including __metadata__")
    func roundTrip() throws {
        let entries = [
            SafetensorsWriter.Entry(name: "a", floats: [1, 2, 3, 4, 5, 6], shape: [2, 3]),
            SafetensorsWriter.Entry(name: "b", dtype: .bfloat16, shape: [2], bytes: [0x80, 0x3F, 0x00, 0x40]),
            SafetensorsWriter.Entry(name: "empty", dtype: .float16, shape: [0, 4], bytes: []),
        ]
        let url = try writeTemporaryFile(SafetensorsWriter.encode(entries, metadata: ["format": "pt", "note": "x"]))
        let tensors = try SafetensorsReader.read(url: url)
        #expect(tensors["a"]?.floats() == [1, 2, 3, 4, 5, 6])
        #expect(tensors["b"]?.floats() == [1, 2])
        #expect(tensors["empty"]?.shape == [0, 4])
    }

    @Test("truncated files are errors at every cut: length prefix, header, data")
    func truncated() throws {
        let valid = try fixtureBytes("models/seq-f32-safetensors/model.safetensors")
        #expect(failure { _ = try SafetensorsReader.read(url: writeTemporaryFile(Array(valid[..<5]))) }
                == .truncated("5 bytes is shorter than the 8-byte header length"))
        guard case .truncated = failure({ _ = try SafetensorsReader.read(url: writeTemporaryFile(Array(valid[..<100]))) }) else {
            Issue.record("a cut inside the header must report truncation")
            return
        }
        guard case .offsetOutOfBounds = failure({
            _ = try SafetensorsReader.read(url: writeTemporaryFile(Array(valid[..<(valid.count - 1)])))
        }) else {
            Issue.record("a cut inside the data must report the tensor that no longer fits")
            return
        }
    }

    @Test("header offsets past the end of the file are errors naming the tensor")
    func offsetsPastEnd() throws {
        let bytes = file(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8))
        let url = try writeTemporaryFile(bytes)
        do {
            _ = try SafetensorsReader.read(url: url)
            Issue.record("expected an error")
        } catch {
            #expect(error.reason == .offsetOutOfBounds(tensor: "w", end: 16, available: 8))
            #expect(error.file == url.path)
            #expect(error.description.contains(url.lastPathComponent))
        }
    }

    @Test("overlapping tensors are errors")
    func overlapping() throws {
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
        let reason = failure { _ = try SafetensorsReader.read(url: writeTemporaryFile(file(header: header, data: .init(repeating: 0, count: 24)))) }
        #expect(reason == .overlappingTensors("a", "b"))
    }

    @Test("dtype × shape must equal the byte length")
    func sizeMismatch() throws {
        let header = #"{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#
        #expect(failure { _ = try SafetensorsReader.read(url: writeTemporaryFile(file(header: header, data: .init(repeating: 0, count: 8)))) }
                == .sizeMismatch(tensor: "a", expected: 6, actual: 8))
    }

    @Test("malformed headers are errors: bad JSON, absurd length, unknown dtype, missing fields, negative dims")
    func malformedHeaders() throws {
        let data = [UInt8](repeating: 0, count: 16)
        guard case .invalidHeader = failure({ _ = try SafetensorsReader.read(url: writeTemporaryFile(file(header: "{not json", data: data))) }) else {
            Issue.record("bad JSON"); return
        }
        var huge = [UInt8](repeating: 0xFF, count: 8)
        huge += data
        guard case .invalidHeader = failure({ _ = try SafetensorsReader.read(url: writeTemporaryFile(huge)) }) else {
            Issue.record("absurd header length"); return
        }
        #expect(failure { _ = try SafetensorsReader.read(url: writeTemporaryFile(file(header: #"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#, data: data))) }
                == .unknownDType(tensor: "a", dtype: "Q4"))
        guard case .invalidHeader = failure({ _ = try SafetensorsReader.read(url: writeTemporaryFile(file(header: #"{"a":{"dtype":"F32"}}"#, data: data))) }) else {
            Issue.record("missing fields"); return
        }
        guard case .invalidHeader = failure({ _ = try SafetensorsReader.read(url: writeTemporaryFile(file(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: data))) }) else {
            Issue.record("negative dimension"); return
        }
        guard case .invalidHeader = failure({ _ = try SafetensorsReader.read(url: writeTemporaryFile(file(header: #"{"a":{"dtype":"F32","shape":[9999999999,9999999999,9999999999],"data_offsets":[0,4]}}"#, data: data))) }) else {
            Issue.record("overflowing shape"); return
        }
    }

    @Test("a missing file is an error naming it")
    func missingFile() {
        let url = URL(fileURLWithPath: "/nonexistent/model.safetensors")
        guard case .cannotOpen = failure({ _ = try SafetensorsReader.read(url: url) }) else {
            Issue.record("expected cannotOpen"); return
        }
    }
}
