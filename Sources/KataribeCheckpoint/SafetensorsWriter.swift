import Foundation
import KataribeTensor

/// Writes `.safetensors` files (used to derive checkpoints, e.g. in tests and tools).
public enum SafetensorsWriter {
    public struct Entry: Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var bytes: [UInt8]

        public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public init(name: String, tensor: RawTensor) {
            self.init(name: name, dtype: tensor.dtype, shape: tensor.shape, bytes: Array(tensor.bytes))
        }

        public init(name: String, floats: [Float], shape: [Int]) {
            self.init(name: name, dtype: .float32, shape: shape,
                      bytes: floats.withUnsafeBytes { Array($0) })
        }
    }

    /// The file's bytes: tensors laid out in the given order, header padded to 8 bytes.
    public static func encode(_ entries: [Entry], metadata: [String: String] = ["format": "pt"]) -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for entry in entries {
            header[entry.name] = ["dtype": entry.dtype.safetensorsName, "shape": entry.shape,
                                  "data_offsets": [offset, offset + entry.bytes.count]] as [String: Any]
            offset += entry.bytes.count
        }
        // Sorted keys keep output deterministic.
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])).map { Array($0) } ?? []
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var out: [UInt8] = []
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for entry in entries { out.append(contentsOf: entry.bytes) }
        return out
    }

    public static func write(_ entries: [Entry], metadata: [String: String] = ["format": "pt"], to url: URL) throws {
        try Data(encode(entries, metadata: metadata)).write(to: url)
    }
}
