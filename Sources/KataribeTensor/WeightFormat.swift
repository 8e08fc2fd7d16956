/// How a weight matrix is held in memory: a float type as stored in checkpoints, Kataribe's own
/// block quantization made at load time (see `QuantizedMatrix`), or one of ggml's block formats
/// as a GGUF file stores it (see `GGMLMatrix`; only ever read from files, never produced).
public enum WeightFormat: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case float32 = "f32"
    case float16 = "f16"
    case bfloat16 = "bf16"
    /// 8-bit codes, ~8.4 bits per weight with scales.
    case q8
    /// 4-bit codes, ~4.4 bits per weight with scales.
    case q4
    /// ggml block formats, named like llama.cpp's file types in lower case.
    case ggmlQ8_0 = "q8_0"
    case ggmlQ4_0 = "q4_0"
    case ggmlQ4_1 = "q4_1"
    case ggmlQ5_0 = "q5_0"
    case ggmlQ5_1 = "q5_1"
    case ggmlQ2_K = "q2_k"
    case ggmlQ3_K = "q3_k"
    case ggmlQ4_K = "q4_k"
    case ggmlQ5_K = "q5_k"
    case ggmlQ6_K = "q6_k"

    /// The dense format of a checkpoint dtype (nil for non-float dtypes).
    public init?(_ dtype: DType) {
        switch dtype {
        case .float32: self = .float32
        case .float16: self = .float16
        case .bfloat16: self = .bfloat16
        default: return nil
        }
    }

    /// The format of a ggml block type (nil for plain element types and unsupported blocks).
    public init?(ggml type: GGMLType) {
        guard let format = WeightFormat.allCases.first(where: { $0.ggmlType == type }) else { return nil }
        self = format
    }

    /// The checkpoint dtype of a dense format (nil for quantized formats).
    public var denseType: DType? {
        switch self {
        case .float32: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        default: nil
        }
    }

    /// The ggml block type of a GGML format.
    public var ggmlType: GGMLType? {
        switch self {
        case .ggmlQ8_0: .q8_0
        case .ggmlQ4_0: .q4_0
        case .ggmlQ4_1: .q4_1
        case .ggmlQ5_0: .q5_0
        case .ggmlQ5_1: .q5_1
        case .ggmlQ2_K: .q2_K
        case .ggmlQ3_K: .q3_K
        case .ggmlQ4_K: .q4_K
        case .ggmlQ5_K: .q5_K
        case .ggmlQ6_K: .q6_K
        default: nil
        }
    }

    /// Kataribe's own block quantization (q8, q4), which weights can be converted into and saved
    /// as a quantized checkpoint. False for the GGML formats.
    public var isQuantized: Bool { self == .q8 || self == .q4 }

    /// One of ggml's block formats, held as stored in a GGUF file.
    public var isGGML: Bool { ggmlType != nil }

    /// The name on the command line and in files (`f16`, `q8`, `q4_k`, ...).
    public var description: String { rawValue }
}
