import Foundation
import Testing
@testable import KataribeCheckpoint
@testable import KataribeTensor

@Suite("Saved quantized models")
struct QuantizedCheckpointTests {
    static let rows = 5, columns = 300

    func denseTensor(_ values: [Float], shape: [Int]) -> RawTensor {
        let storage = values.withUnsafeBytes { ByteStorage(copying: $0) }
        return RawTensor(dtype: .float32, shape: shape, storage: storage, byteOffset: 0)
    }

    func sample(_ format: WeightFormat) throws -> (matrix: QuantizedMatrix, bias: RawTensor) {
        let values = (0..<(Self.rows * Self.columns)).map { Float(($0 * 37) % 101 - 50) / 1000 }
        let matrix = try QuantizedMatrix.quantize(denseTensor(values, shape: [Self.rows, Self.columns]), to: format,
                                                  parallelism: .serial)
        return (matrix, denseTensor([1, 2, 3, 4, 5], shape: [5]))
    }

    /// A valid file, written by `QuantizedCheckpoint.write`.
    func writeValid(_ format: WeightFormat = .q8) throws -> URL {
        let (matrix, bias) = try sample(format)
        let url = try temporaryDirectory().appendingPathComponent("model.\(format).safetensors")
        try QuantizedCheckpoint.write(to: url, weightFormat: format, source: "source-1",
                                      plain: [("layer.bias", bias)], matrices: [("layer.weight", matrix)])
        return url
    }

    /// The valid file's tensors re-encoded with edits (nil drops a tensor or key).
    func rewritten(
        metadata edit: [String: String?] = [:], dropping dropped: Set<String> = [],
        replacing replacements: [String: SafetensorsWriter.Entry] = [:]
    ) throws -> URL {
        let url = try writeValid()
        let file = try MappedFile(url: url)
        var metadata = try SafetensorsReader.metadata(file)
        for (key, value) in edit { metadata[key] = value }
        let tensors = try SafetensorsReader.read(file)
        let entries = tensors.names.filter { !dropped.contains($0) }.map { name in
            replacements[name] ?? SafetensorsWriter.Entry(name: name, tensor: tensors[name]!)
        }
        let out = url.deletingLastPathComponent().appendingPathComponent("edited.safetensors")
        try SafetensorsWriter.write(entries, metadata: metadata, to: out)
        return out
    }

    func reason(_ url: URL) -> CheckpointError.Reason? {
        failure { _ = try QuantizedCheckpoint.read(url: url) }
    }

    @Test("a written model reads back with identical matrices and plain tensors", arguments: [WeightFormat.q8, .q4])
    func roundTrip(format: WeightFormat) throws {
        let url = try writeValid(format)
        let (original, _) = try sample(format)
        let saved = try QuantizedCheckpoint.read(url: url)
        #expect(saved.weightFormat == format && saved.source == "source-1")
        #expect(saved.tensors.names == ["layer.bias"])
        #expect(saved.tensors["layer.bias"]?.floats() == [1, 2, 3, 4, 5])
        let matrix = try #require(saved.matrices["layer.weight"])
        #expect(matrix.rows == Self.rows && matrix.columns == Self.columns && matrix.format == format)
        #expect(Array(matrix.codes.bytes) == Array(original.codes.bytes))
        #expect(Array(matrix.blockScales.bytes) == Array(original.blockScales.bytes))
        #expect(Array(matrix.superScales.bytes) == Array(original.superScales.bytes))
        // The file is plain safetensors: every tensor is aligned, so nothing had to be copied.
        #expect(matrix.superScales.storage === matrix.codes.storage)
    }

    @Test("writing is atomic: no partial file is left behind, and an unwritable place is a typed error")
    func atomicWrite() throws {
        let url = try writeValid()
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
        #expect(leftovers == [url.lastPathComponent])
        let (matrix, _) = try sample(.q8)
        let nowhere = URL(fileURLWithPath: "/nonexistent-kataribe-dir/model.safetensors")
        let error = failure {
            try QuantizedCheckpoint.write(to: nowhere, weightFormat: .q8, source: "", plain: [], matrices: [("m", matrix)])
        }
        guard case .cannotWrite = error else { Issue.record("expected cannotWrite, got \(String(describing: error))"); return }
    }

    @Test("an ordinary safetensors file is not a quantized model")
    func notQuantized() throws {
        let url = try rewritten(metadata: ["format": "pt"])
        guard case .notAQuantizedModel = reason(url) else { Issue.record("got \(String(describing: reason(url)))"); return }
        let missing = try rewritten(metadata: ["format": nil])
        guard case .notAQuantizedModel = reason(missing) else { Issue.record("got \(String(describing: reason(missing)))"); return }
    }

    @Test("another format version is a typed error that says to rebuild")
    func version() throws {
        let url = try rewritten(metadata: ["format_version": "99"])
        #expect(reason(url) == .unsupportedQuantizedVersion("99"))
        #expect(CheckpointError(file: "f", .unsupportedQuantizedVersion("99")).description.contains("delete the file"))
    }

    @Test("bad metadata is a typed error: unknown weight format, missing source, unparsable or absurd matrix list",
          arguments: [
              ["weight_format": "f16"], ["weight_format": nil], ["source": nil], ["matrices": "not json"],
              ["matrices": "{\"layer.weight\": [5]}"], ["matrices": "{\"layer.weight\": [5, -300]}"],
              ["matrices": "{\"layer.weight\": [5, 99999999999]}"], ["matrices": "{\"layer.weight\": [5.5, 300]}"],
          ] as [[String: String?]])
    func badMetadata(edit: [String: String?]) throws {
        let url = try rewritten(metadata: edit)
        guard case .invalidQuantizedModel = reason(url) else { Issue.record("\(edit): got \(String(describing: reason(url)))"); return }
    }

    @Test("a matrix whose parts are missing or do not match its declared shape is a typed error naming it")
    func badParts() throws {
        let missing = try rewritten(dropping: ["layer.weight.block_scales"])
        #expect(reason(missing) == .invalidQuantizedModel("matrix 'layer.weight' lacks tensor 'layer.weight.block_scales'"))

        let wrongShape = try rewritten(metadata: ["matrices": "{\"layer.weight\": [5, 600]}"])
        guard case .invalidQuantizedModel(let why) = reason(wrongShape) else { Issue.record("expected invalid"); return }
        #expect(why.contains("layer.weight") && why.contains("codes"))

        let wrongType = try rewritten(replacing: [
            "layer.weight.super_scales": SafetensorsWriter.Entry(name: "layer.weight.super_scales", dtype: .float16,
                                                                 shape: [5, 2], bytes: [UInt8](repeating: 0, count: 20)),
        ])
        guard case .invalidQuantizedModel(let typeWhy) = reason(wrongType) else { Issue.record("expected invalid"); return }
        #expect(typeWhy.contains("super-block scales"))
    }

    @Test("truncated and garbage files are typed errors, never crashes")
    func truncated() throws {
        let url = try writeValid(.q4)
        let bytes = Array(try Data(contentsOf: url))
        for cut in [0, 4, 8, 100, bytes.count / 2, bytes.count - 1] {
            let piece = url.deletingLastPathComponent().appendingPathComponent("cut-\(cut).safetensors")
            try Data(bytes.prefix(cut)).write(to: piece)
            #expect(reason(piece) != nil, "cut at \(cut)")
        }
        var random = bytes
        for i in stride(from: 8, to: random.count, by: 7) { random[i] ^= 0x5a }
        let garbage = url.deletingLastPathComponent().appendingPathComponent("garbage.safetensors")
        try Data(random).write(to: garbage)
        #expect(reason(garbage) != nil)
    }
}
