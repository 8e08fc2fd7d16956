/// How a weight matrix is held in memory: a float type as stored in checkpoints, or a block
/// quantization made at load time (see `QuantizedMatrix`).
public enum WeightFormat: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case float32 = "f32"
    case float16 = "f16"
    case bfloat16 = "bf16"
    /// 8-bit codes, ~8.4 bits per weight with scales.
    case q8
    /// 4-bit codes, ~4.4 bits per weight with scales.
    case q4

    /// The dense format of a checkpoint dtype (nil for non-float dtypes).
    public init?(_ dtype: DType) {
        switch dtype {
        case .float32: self = .float32
        case .float16: self = .float16
        case .bfloat16: self = .bfloat16
        default: return nil
        }
    }

    /// The checkpoint dtype of a dense format (nil for quantized formats).
    public var denseType: DType? {
        switch self {
        case .float32: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .q8, .q4: nil
        }
    }

    public var isQuantized: Bool { denseType == nil }

    /// The name on the command line and in files (`f16`, `q8`, ...).
    public var description: String { rawValue }
}
