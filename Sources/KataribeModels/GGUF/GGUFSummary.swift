import Foundation
import KataribeCheckpoint
import KataribeTensor

/// What `kataribe inspect` shows of a GGUF file beyond the model: its metadata, the tensor types
/// with their counts and sizes, bits per weight, the tokenizer kind and the chat template.
public struct GGUFSummary: Codable, Sendable, Equatable {
    public struct TensorType: Codable, Sendable, Equatable {
        public var tensors: Int
        public var parameters: Int
        public var bytes: Int
    }

    public var version: Int
    public var architecture: String
    public var name: String?
    /// Every metadata key in file order with its value as text; arrays as `[N × type]` (the
    /// tokenizer's vocabulary is hundreds of thousands of strings).
    public var metadata: [[String]]
    public var tensorTypes: [String: TensorType]
    /// Stored bits per parameter over all tensors.
    public var bitsPerWeight: Double
    public var tokenizerModel: String?
    public var tokenizerPre: String?
    public var vocabularySize: Int?
    public var chatTemplate: String?

    enum CodingKeys: String, CodingKey {
        case version, architecture, name, metadata, bitsPerWeight = "bits_per_weight", tensorTypes = "tensor_types"
        case tokenizerModel = "tokenizer_model", tokenizerPre = "tokenizer_pre", vocabularySize = "vocab_size"
        case chatTemplate = "chat_template"
    }

    public init(_ file: GGUFFile) {
        version = Int(file.version)
        architecture = file.architecture ?? ""
        name = file["general.name"]?.string
        metadata = file.metadataKeys.map { key in [key, file[key].map(Self.text) ?? ""] }
        var types: [String: TensorType] = [:]
        var parameters = 0, bytes = 0
        for tensor in file.tensors {
            types[tensor.type.description, default: TensorType(tensors: 0, parameters: 0, bytes: 0)].tensors += 1
            types[tensor.type.description]?.parameters += tensor.elementCount
            types[tensor.type.description]?.bytes += tensor.byteCount
            parameters += tensor.elementCount
            bytes += tensor.byteCount
        }
        tensorTypes = types
        bitsPerWeight = parameters > 0 ? Double(bytes * 8) / Double(parameters) : 0
        tokenizerModel = file["tokenizer.ggml.model"]?.string
        tokenizerPre = file["tokenizer.ggml.pre"]?.string
        vocabularySize = file["tokenizer.ggml.tokens"]?.array?.count
        chatTemplate = file["tokenizer.chat_template"]?.string
    }

    static func text(_ value: GGUFValue) -> String {
        if let array = value.array { return "[\(array.count) × \(array.elementType)]" }
        if let string = value.string { return string }
        if let bool = value.bool { return String(bool) }
        if let integer = value.int { return String(integer) }
        if let number = value.double { return String(number) }
        return "\(value)"
    }
}
