import Foundation
import KataribeSupport
import KataribeTensor

/// Reads a `.safetensors` file: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the data
/// section the offsets point into. Tensors stay inside the memory mapping.
public enum SafetensorsReader {
    /// The Rust reference loader's limit (`MAX_HEADER_SIZE`); real headers are well under a megabyte.
    static let maximumHeaderLength = 100_000_000

    public static func read(url: URL) throws(CheckpointError) -> TensorCollection {
        try read(MappedFile(url: url))
    }

    public static func read(_ file: MappedFile) throws(CheckpointError) -> TensorCollection {
        let path = file.path
        func fail(_ reason: CheckpointError.Reason) -> CheckpointError { CheckpointError(file: path, reason) }
        let reader = ByteReader(file.bytes)
        guard let rawLength = reader.u64(at: 0) else {
            throw fail(.truncated("\(file.size) bytes is shorter than the 8-byte header length"))
        }
        guard rawLength <= UInt64(maximumHeaderLength) else {
            throw fail(.invalidHeader("header length \(rawLength) is more than \(maximumHeaderLength) bytes"))
        }
        let headerLength = Int(rawLength)
        guard let headerBytes = reader.slice(8, headerLength) else {
            throw fail(.truncated("header needs \(headerLength) bytes, file has \(file.size - 8) after the length"))
        }
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw fail(.invalidHeader("header does not start with '{'"))
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(headerBytes), options: [])
        } catch {
            throw fail(.invalidHeader("not valid JSON"))
        }
        guard let header = json as? [String: Any] else { throw fail(.invalidHeader("not a JSON object")) }

        let dataStart = 8 + headerLength
        let dataSize = file.size - dataStart
        var collection = TensorCollection()
        collection.format = "safetensors"
        var spans: [(begin: Int, end: Int, name: String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                // As the reference loader: a map of strings to strings, nothing else.
                guard let metadata = value as? [String: Any] else { throw fail(.invalidHeader("__metadata__ is not an object")) }
                if let key = metadata.first(where: { !($0.value is String) })?.key {
                    throw fail(.invalidHeader("__metadata__ value of '\(UntrustedText.quoted(key))' is not a string"))
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any],
                  let offsetValues = entry["data_offsets"] as? [Any], offsetValues.count == 2
            else { throw fail(.invalidHeader("entry '\(UntrustedText.quoted(name))' lacks dtype, shape or data_offsets")) }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail(.unknownDType(tensor: name, dtype: dtypeName))
            }
            let shape = shapeValues.compactMap(exactInt)
            guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }),
                  let elementCount = checkedProduct(shape),
                  let expectedBytes = checkedProduct([elementCount, dtype.size])
            else { throw fail(.invalidHeader("entry '\(UntrustedText.quoted(name))' has an invalid shape")) }
            guard let begin = exactInt(offsetValues[0]), let end = exactInt(offsetValues[1]),
                  begin >= 0, end >= begin
            else { throw fail(.invalidHeader("entry '\(UntrustedText.quoted(name))' has invalid data_offsets")) }
            guard end <= dataSize else {
                throw fail(.offsetOutOfBounds(tensor: name, end: end, available: dataSize))
            }
            guard end - begin == expectedBytes else {
                throw fail(.sizeMismatch(tensor: name, expected: expectedBytes, actual: end - begin))
            }
            spans.append((begin, end, name))
            let tensor = RawTensor(dtype: dtype, shape: shape, storage: file.storage, byteOffset: dataStart + begin)
            try collection.insert(tensor, named: name, from: path)
        }
        // The tensors must tile the data section exactly, as the reference loader demands: a gap,
        // an overlap or bytes after the last tensor mean the header and the data disagree (a header
        // length one byte short shifts every tensor and still "fits").
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        var previous: String?
        for span in spans {
            if span.begin < covered, let previous { throw fail(.overlappingTensors(previous, span.name)) }
            guard span.begin == covered else {
                throw fail(.invalidHeader("bytes \(covered)..<\(span.begin) of the data section belong to no tensor"))
            }
            covered = span.end
            previous = span.name
        }
        guard covered == dataSize else {
            throw fail(.invalidHeader("the data section has \(dataSize) bytes but the tensors cover \(covered)"))
        }
        collection.addFile(file.url)
        return collection
    }

    /// The header's `__metadata__` string pairs (values that are not strings are left out).
    /// Call after `read` has validated the file.
    public static func metadata(_ file: MappedFile) throws(CheckpointError) -> [String: String] {
        let reader = ByteReader(file.bytes)
        guard let rawLength = reader.u64(at: 0), rawLength <= UInt64(maximumHeaderLength),
              let headerBytes = reader.slice(8, Int(rawLength)),
              let json = try? JSONSerialization.jsonObject(with: Data(headerBytes)),
              let header = json as? [String: Any]
        else { throw CheckpointError(file: file.path, .invalidHeader("unreadable header")) }
        guard let metadata = header["__metadata__"] as? [String: Any] else { return [:] }
        return metadata.compactMapValues { $0 as? String }
    }

    /// JSON numbers arrive as NSNumber; only exact integers (not 1.5, not strings) are accepted.
    static func exactInt(_ value: Any) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double.rounded() == double, abs(double) < 9.0e15 else { return nil }
        return number.intValue
    }
}
