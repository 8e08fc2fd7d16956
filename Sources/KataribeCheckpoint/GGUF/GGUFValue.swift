/// The value types of GGUF metadata, numbered as the file stores them (`gguf_type`).
public enum GGUFValueType: UInt32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Bytes of one value of a fixed-size type; for a string, the smallest it can take (its
    /// 8-byte length); for an array, its element type and count.
    var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64, .string: 8
        case .array: 12
        }
    }

    /// gguf-py's spelling (`UINT32`, `STRING`, …), used in messages and the fixture summaries.
    public var description: String {
        switch self {
        case .uint8: "UINT8"
        case .int8: "INT8"
        case .uint16: "UINT16"
        case .int16: "INT16"
        case .uint32: "UINT32"
        case .int32: "INT32"
        case .float32: "FLOAT32"
        case .bool: "BOOL"
        case .string: "STRING"
        case .array: "ARRAY"
        case .uint64: "UINT64"
        case .int64: "INT64"
        case .float64: "FLOAT64"
        }
    }
}

/// One metadata value of a GGUF file.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case array(GGUFArray)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .array: .array
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    /// The text of a string value.
    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// An integer value of any width, when it fits `Int` (a UInt64 above `Int.max` does not).
    public var int: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// A floating-point value (FLOAT32, or FLOAT64 rounded to Float). Integers are not converted:
    /// llama.cpp reads each key with the type it expects and refuses another, and so does this.
    public var float: Float? {
        switch self {
        case .float32(let v): v
        case .float64(let v): Float(v)
        default: nil
        }
    }

    /// A floating-point value at full precision.
    public var double: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: nil
        }
    }

    public var bool: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    public var array: GGUFArray? {
        if case .array(let v) = self { return v }
        return nil
    }

    /// An array of strings (a tokenizer's vocabulary or merges), without copying.
    public var stringArray: [String]? {
        if case .array(.string(let v)) = self { return v }
        return nil
    }

    /// An array of FLOAT32 (or FLOAT64, rounded) values, such as token scores.
    public var floatArray: [Float]? {
        switch self {
        case .array(.float32(let v)): v
        case .array(.float64(let v)): v.map { Float($0) }
        default: nil
        }
    }

    /// An array of integers of any width, when every element fits `Int`.
    public var intArray: [Int]? {
        guard case .array(let array) = self else { return nil }
        return array.ints
    }
}

/// A homogeneous metadata array, stored as a typed Swift array: a 262,144-entry vocabulary is one
/// `[String]`, not 262,144 enum boxes, and an empty array keeps its element type (a writer needs it).
///
/// Arrays of arrays are legal in the GGUF specification but llama.cpp refuses them
/// (`gguf_init_from_file`: "invalid GGUF type"), and no converter writes them, so neither this
/// type nor the reader has them.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8])
    case int8([Int8])
    case uint16([UInt16])
    case int16([Int16])
    case uint32([UInt32])
    case int32([Int32])
    case float32([Float])
    case bool([Bool])
    case string([String])
    case uint64([UInt64])
    case int64([Int64])
    case float64([Double])

    public var elementType: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    public var count: Int {
        switch self {
        case .uint8(let v): v.count
        case .int8(let v): v.count
        case .uint16(let v): v.count
        case .int16(let v): v.count
        case .uint32(let v): v.count
        case .int32(let v): v.count
        case .float32(let v): v.count
        case .bool(let v): v.count
        case .string(let v): v.count
        case .uint64(let v): v.count
        case .int64(let v): v.count
        case .float64(let v): v.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// Element `index` as a value (`index` must be in `0..<count`).
    public subscript(index: Int) -> GGUFValue {
        switch self {
        case .uint8(let v): .uint8(v[index])
        case .int8(let v): .int8(v[index])
        case .uint16(let v): .uint16(v[index])
        case .int16(let v): .int16(v[index])
        case .uint32(let v): .uint32(v[index])
        case .int32(let v): .int32(v[index])
        case .float32(let v): .float32(v[index])
        case .bool(let v): .bool(v[index])
        case .string(let v): .string(v[index])
        case .uint64(let v): .uint64(v[index])
        case .int64(let v): .int64(v[index])
        case .float64(let v): .float64(v[index])
        }
    }

    /// Every element as a value (allocates one enum per element: for small arrays).
    public var elements: [GGUFValue] { (0..<count).map { self[$0] } }

    /// The elements as `Int` when this is an integer array whose every element fits.
    public var ints: [Int]? {
        switch self {
        case .uint8(let v): v.map { Int($0) }
        case .int8(let v): v.map { Int($0) }
        case .uint16(let v): v.map { Int($0) }
        case .int16(let v): v.map { Int($0) }
        case .uint32(let v): v.map { Int($0) }
        case .int32(let v): v.map { Int($0) }
        case .int64(let v): v.map { Int($0) }
        case .uint64(let v):
            v.allSatisfy { $0 <= UInt64(Int.max) } ? v.map { Int($0) } : nil
        default: nil
        }
    }
}
