import KataribeModels
import KataribeTensor

extension WeightFormat {
    /// The names `--dtype` and a suite's `dtype:` take, in the order help texts list them. GGML
    /// formats are left out: they describe how a GGUF file stores weights, and nothing converts
    /// into them.
    public static let dtypeNames = WeightFormat.allCases.filter { !$0.isGGML }.map(\.rawValue)

    /// A `--dtype` / `dtype:` value: `f32`, `f16`, `bf16`, `q8`, `q4`, or the long float names
    /// (`float32`, `float16`, `bfloat16`) that suites and model cards spell dtypes with.
    public init?(dtypeName name: String) {
        if let format = WeightFormat(rawValue: name), !format.isGGML {
            self = format
            return
        }
        switch name {
        case "float32": self = .float32
        case "float16": self = .float16
        case "bfloat16": self = .bfloat16
        default: return nil
        }
    }

    /// The quantized cache a load in this format uses by default: quantized formats save their
    /// weights under `QuantizedCache.standard` so later loads (by any command) map them instead of
    /// quantizing again; float formats need none.
    public var standardQuantizedCache: QuantizedCache? { isQuantized ? .standard : nil }
}
