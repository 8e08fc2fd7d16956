/// Element types that appear in checkpoints. Only the floating types can hold weights; the others
/// exist so that buffers such as `attention.bias` (bool/uint8 masks) can be read and skipped.
public enum DType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case float64 = "F64"
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int64 = "I64"
    case int32 = "I32"
    case int16 = "I16"
    case int8 = "I8"
    case uint8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// The safetensors spelling (`F32`, `BF16`, ...).
    public var safetensorsName: String { rawValue }

    /// Whether weights may be stored in this type (the forward pass reads these).
    public var isWeightType: Bool {
        self == .float32 || self == .float16 || self == .bfloat16
    }

    public var description: String {
        switch self {
        case .float64: "float64"
        case .float32: "float32"
        case .float16: "float16"
        case .bfloat16: "bfloat16"
        case .int64: "int64"
        case .int32: "int32"
        case .int16: "int16"
        case .int8: "int8"
        case .uint8: "uint8"
        case .bool: "bool"
        }
    }
}
