import Foundation
import KataribeTensor
#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// A model whose matrices were quantized once and saved, so later loads only map the file.
///
/// The file is an ordinary safetensors file (readable by the `safetensors` Python package):
/// - every quantized matrix `N` is three tensors, `N.codes`, `N.block_scales`, `N.super_scales`
///   (dtypes and shapes in `QuantizedMatrix.expectedParts`);
/// - every other tensor (norms, biases, the input embedding) is stored under its checkpoint name
///   in its checkpoint dtype;
/// - `__metadata__` holds `format` = `kataribe-quantized`, `format_version`, `weight_format`
///   (`q8`/`q4`), `source` (an opaque fingerprint of the checkpoint it was made from) and
///   `matrices`, a JSON object `{N: [rows, columns]}`.
/// Reading validates all of it; the tensors stay inside the memory mapping.
public struct QuantizedCheckpoint: Sendable {
    public static let formatName = "kataribe-quantized"
    /// Bumped whenever the layout or the quantizer changes, so stale files are rebuilt.
    public static let formatVersion = 1
    /// Far above any real model; keeps a hostile `matrices` entry from asking for absurd sizes.
    static let maximumDimension = 1 << 24

    public let weightFormat: WeightFormat
    public let source: String
    /// The tensors that are not quantized, by checkpoint name.
    public let tensors: TensorCollection
    /// Quantized matrices by checkpoint name (e.g. `gpt_neox.layers.0.mlp.dense_h_to_4h.weight`).
    public let matrices: [String: QuantizedMatrix]

    public init(weightFormat: WeightFormat, source: String, tensors: TensorCollection, matrices: [String: QuantizedMatrix]) {
        self.weightFormat = weightFormat
        self.source = source
        self.tensors = tensors
        self.matrices = matrices
    }

    // MARK: Reading

    public static func read(url: URL) throws(CheckpointError) -> QuantizedCheckpoint {
        let file = try MappedFile(url: url)
        let path = file.path
        func invalid(_ why: String) -> CheckpointError { CheckpointError(file: path, .invalidQuantizedModel(why)) }
        let all = try SafetensorsReader.read(file)
        let metadata = try SafetensorsReader.metadata(file)
        guard metadata["format"] == formatName else {
            throw CheckpointError(file: path, .notAQuantizedModel("metadata 'format' is \(metadata["format"].map { "'\($0)'" } ?? "missing")"))
        }
        guard metadata["format_version"] == String(formatVersion) else {
            throw CheckpointError(file: path, .unsupportedQuantizedVersion(metadata["format_version"] ?? "(missing)"))
        }
        guard let formatName = metadata["weight_format"], let format = WeightFormat(rawValue: formatName), format.isQuantized else {
            throw invalid("weight_format must be q8 or q4, got \(metadata["weight_format"] ?? "nothing")")
        }
        guard let source = metadata["source"] else { throw invalid("metadata lacks 'source'") }
        guard let listing = metadata["matrices"], let object = try? JSONSerialization.jsonObject(with: Data(listing.utf8)),
              let shapes = object as? [String: Any]
        else { throw invalid("metadata 'matrices' is not a JSON object") }

        var matrices: [String: QuantizedMatrix] = [:]
        var used = Set<String>()
        for (name, value) in shapes.sorted(by: { $0.key < $1.key }) {
            guard let pair = value as? [Any], pair.count == 2,
                  let rows = SafetensorsReader.exactInt(pair[0]), let columns = SafetensorsReader.exactInt(pair[1]),
                  (1...maximumDimension).contains(rows), (1...maximumDimension).contains(columns)
            else { throw invalid("matrix '\(name)' needs [rows, columns] between 1 and \(maximumDimension)") }
            let partNames = [name + ".codes", name + ".block_scales", name + ".super_scales"]
            let parts = try partNames.map { part throws(CheckpointError) -> RawTensor in
                guard let tensor = all[part] else { throw invalid("matrix '\(name)' lacks tensor '\(part)'") }
                return tensor
            }
            do {
                matrices[name] = try QuantizedMatrix(format: format, rows: rows, columns: columns,
                                                     codes: parts[0], blockScales: parts[1], superScales: parts[2])
            } catch {
                throw invalid("matrix '\(name)': \(error)")
            }
            used.formUnion(partNames)
        }
        var plain = TensorCollection()
        plain.format = "kataribe quantized (\(format))"
        for name in all.names where !used.contains(name) {
            guard let tensor = all[name] else { continue }
            try plain.insert(tensor, named: name, from: path)
        }
        plain.addFile(url)
        return QuantizedCheckpoint(weightFormat: format, source: source, tensors: plain, matrices: matrices)
    }

    // MARK: Writing

    /// Writes `plain` tensors and quantized `matrices` to `url` atomically (a temporary file in
    /// the same directory, renamed at the end), streaming tensor bytes without copying them.
    public static func write(
        to url: URL, weightFormat: WeightFormat, source: String,
        plain: [(name: String, tensor: RawTensor)], matrices: [(name: String, matrix: QuantizedMatrix)]
    ) throws(CheckpointError) {
        var entries: [(name: String, tensor: RawTensor)] = plain
        var shapes: [String: [Int]] = [:]
        for (name, matrix) in matrices {
            entries.append((name + ".codes", matrix.codes))
            entries.append((name + ".block_scales", matrix.blockScales))
            entries.append((name + ".super_scales", matrix.superScales))
            shapes[name] = [matrix.rows, matrix.columns]
        }
        // Wider elements first: with the header padded to 64 bytes every tensor stays aligned
        // to its element size, so the reader never has to copy one.
        entries.sort { ($0.tensor.dtype.size, $1.name) > ($1.tensor.dtype.size, $0.name) }

        let listing = (try? JSONSerialization.data(withJSONObject: shapes, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        var header: [String: Any] = ["__metadata__": [
            "format": formatName, "format_version": String(formatVersion), "weight_format": weightFormat.rawValue,
            "source": source, "matrices": listing,
        ]]
        var offset = 0
        for entry in entries {
            header[entry.name] = ["dtype": entry.tensor.dtype.safetensorsName, "shape": entry.tensor.shape,
                                  "data_offsets": [offset, offset + entry.tensor.byteCount]] as [String: Any]
            offset += entry.tensor.byteCount
        }
        guard var json = try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]).map({ $0 }) else {
            throw CheckpointError(file: url.path, .cannotWrite("header is not encodable"))
        }
        while (8 + json.count) % 64 != 0 { json.append(UInt8(ascii: " ")) }

        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CheckpointError(file: url.path, .cannotWrite(String(cString: strerror(errno)))) }
        var failure: String?
        func put(_ bytes: UnsafeRawBufferPointer) {
            var done = 0
            while failure == nil, done < bytes.count, let base = bytes.baseAddress {
                let n = systemWrite(fd, base + done, min(bytes.count - done, 1 << 26))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                } else {
                    done += n
                }
            }
        }
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { put($0) }
        json.withUnsafeBytes { put($0) }
        for entry in entries { put(entry.tensor.bytes) }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temporary.path, url.path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary.path)
            throw CheckpointError(file: url.path, .cannotWrite(failure))
        }
    }
}
