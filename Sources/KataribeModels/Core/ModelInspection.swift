import Foundation
import KataribeTensor

/// A summary of a model directory (the `kataribe inspect --json` document).
public struct ModelInspection: Codable, Sendable, Equatable {
    public struct File: Codable, Sendable, Equatable {
        public var name: String
        public var bytes: Int
    }

    public var directory: String
    public var modelType: String
    public var architectures: [String]
    /// `safetensors`, `pytorch`, or either followed by ` (sharded)`.
    public var format: String
    public var files: [File]
    public var parameterCount: Int
    /// Parameter count per stored dtype (`float16`, ...).
    public var parametersByDType: [String: Int]
    public var weightBytes: Int
    /// Keys and values for a full context, in the cache's element type.
    public var kvCacheBytes: Int
    /// `f32` or `f16`: float32 for float weights, float16 for quantized ones.
    public var kvCacheFormat: String
    /// Weights + full-context KV cache + one session's scratch buffers.
    public var estimatedMemoryBytes: Int
    public var hiddenSize: Int
    public var layers: Int
    public var attentionHeads: Int
    public var intermediateSize: Int
    public var vocabularySize: Int
    public var contextLength: Int
    public var rotaryDimensions: Int
    public var rotaryBase: Double
    public var parallelResidual: Bool
    public var tiedEmbeddings: Bool
    public var activation: String
    public var bosTokenID: Int?
    public var eosTokenIDs: [Int]
    /// For a GGUF file: its metadata, tensor types and tokenizer.
    public var gguf: GGUFSummary?

    enum CodingKeys: String, CodingKey {
        case directory, modelType = "model_type", architectures, format, files
        case parameterCount = "parameter_count", parametersByDType = "parameters_by_dtype"
        case weightBytes = "weight_bytes", kvCacheBytes = "kv_cache_bytes", kvCacheFormat = "kv_cache_format", estimatedMemoryBytes = "estimated_memory_bytes"
        case hiddenSize = "hidden_size", layers = "num_hidden_layers", attentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size", vocabularySize = "vocab_size", contextLength = "context_length"
        case rotaryDimensions = "rotary_dimensions", rotaryBase = "rotary_base"
        case parallelResidual = "parallel_residual", tiedEmbeddings = "tied_embeddings", activation
        case bosTokenID = "bos_token_id", eosTokenIDs = "eos_token_ids", gguf
    }

    init(model: any TransformerModel, directory: URL) {
        let shape = model.shape
        self.directory = directory.path
        modelType = shape.modelType
        architectures = shape.architectures
        format = model.format
        files = model.files.map { url in
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
            return File(name: url.lastPathComponent, bytes: size)
        }
        parameterCount = model.parameterCount
        parametersByDType = Dictionary(uniqueKeysWithValues: model.weightTypes.map { ($0.key.description, $0.value) }
                                       + model.statistics.ggmlElements.map { ($0.key.description, $0.value) })
        weightBytes = model.weightBytes
        kvCacheBytes = model.fullContextCacheBytes
        kvCacheFormat = model.kvCacheFormat.rawValue
        estimatedMemoryBytes = weightBytes + kvCacheBytes + model.scratchBytes(rows: min(model.batchCapacity, shape.contextLength))
        hiddenSize = shape.hiddenSize
        layers = shape.layers
        attentionHeads = shape.attentionHeads
        intermediateSize = shape.intermediateSize
        vocabularySize = shape.vocabularySize
        contextLength = shape.contextLength
        rotaryDimensions = shape.rotaryDimensions
        rotaryBase = shape.rotaryBase
        parallelResidual = shape.parallelResidual
        tiedEmbeddings = model.hasTiedEmbeddings
        activation = shape.activation
        bosTokenID = shape.bosTokenID
        eosTokenIDs = shape.eosTokenIDs
    }
}
