import Foundation
import KataribeTensor

/// Writes GGUF files: metadata in the order added, then the tensor entries, then each tensor's
/// bytes padded to the alignment, as gguf-py and llama.cpp lay them out. For tests, fuzz seeds and
/// tools that need small synthetic GGUF files; nothing here validates, so a test can also write
/// what the reader must refuse (duplicate keys, wrong byte counts, any dimensions).
public struct GGUFWriter: Sendable {
    public struct Tensor: Sendable {
        public var name: String
        public var type: GGMLType
        /// ggml order: the row length first.
        public var dimensions: [Int]
        public var bytes: [UInt8]

        public init(name: String, type: GGMLType, dimensions: [Int], bytes: [UInt8]) {
            self.name = name
            self.type = type
            self.dimensions = dimensions
            self.bytes = bytes
        }
    }

    public var version: UInt32 = 3
    public var metadata: [(key: String, value: GGUFValue)] = []
    public var tensors: [Tensor] = []

    public init() {}

    public mutating func add(_ key: String, _ value: GGUFValue) {
        metadata.append((key, value))
    }

    /// Adds a tensor of raw bytes (`dimensions` in ggml order).
    public mutating func addTensor(_ name: String, type: GGMLType, dimensions: [Int], bytes: [UInt8]) {
        tensors.append(Tensor(name: name, type: type, dimensions: dimensions, bytes: bytes))
    }

    /// Adds an F32 tensor of PyTorch shape `shape` (stored with the dimensions reversed).
    public mutating func addTensor(_ name: String, floats: [Float], shape: [Int]) {
        addTensor(name, type: .f32, dimensions: shape.reversed(), bytes: floats.withUnsafeBytes { Array($0) })
    }

    /// The alignment the file is laid out with: `general.alignment` when it is a UINT32 power of two
    /// of at most 64 KiB, else 32 (a test that writes a bad alignment wants it refused, not
    /// gigabytes of padding).
    public var alignment: Int {
        if let value = metadata.last(where: { $0.key == "general.alignment" })?.value,
           case .uint32(let alignment) = value, alignment > 0, alignment & (alignment - 1) == 0, alignment <= 1 << 16 {
            return Int(alignment)
        }
        return GGUFFile.defaultAlignment
    }

    /// The whole file.
    public func encode() -> [UInt8] {
        var out: [UInt8] = Array("GGUF".utf8)
        append(version, to: &out)
        append(UInt64(tensors.count), to: &out)
        append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata {
            append(key, to: &out)
            append(value.type.rawValue, to: &out)
            append(value, to: &out)
        }
        let alignment = alignment
        var offset = 0
        for tensor in tensors {
            append(tensor.name, to: &out)
            append(UInt32(tensor.dimensions.count), to: &out)
            for dimension in tensor.dimensions { append(Int64(dimension), to: &out) }
            append(tensor.type.rawValue, to: &out)
            append(UInt64(offset), to: &out)
            offset = padded(offset + tensor.bytes.count, alignment)
        }
        if !tensors.isEmpty { pad(&out, alignment) }
        for tensor in tensors {
            out += tensor.bytes
            pad(&out, alignment)
        }
        return out
    }

    public func write(to url: URL) throws {
        try Data(encode()).write(to: url)
    }

    private func padded(_ count: Int, _ alignment: Int) -> Int { (count + alignment - 1) / alignment * alignment }

    private func pad(_ out: inout [UInt8], _ alignment: Int) {
        out += [UInt8](repeating: 0, count: padded(out.count, alignment) - out.count)
    }

    private func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }

    private func append(_ text: String, to out: inout [UInt8]) {
        append(UInt64(text.utf8.count), to: &out)
        out += text.utf8
    }

    private func append(_ value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): append(v, to: &out)
        case .int8(let v): append(v, to: &out)
        case .uint16(let v): append(v, to: &out)
        case .int16(let v): append(v, to: &out)
        case .uint32(let v): append(v, to: &out)
        case .int32(let v): append(v, to: &out)
        case .uint64(let v): append(v, to: &out)
        case .int64(let v): append(v, to: &out)
        case .float32(let v): append(v.bitPattern, to: &out)
        case .float64(let v): append(v.bitPattern, to: &out)
        case .bool(let v): append(UInt8(v ? 1 : 0), to: &out)
        case .string(let v): append(v, to: &out)
        case .array(let array):
            append(array.elementType.rawValue, to: &out)
            append(UInt64(array.count), to: &out)
            switch array {
            case .string(let strings): for string in strings { append(string, to: &out) }
            default: for index in 0..<array.count { append(array[index], to: &out) }
            }
        }
    }
}
