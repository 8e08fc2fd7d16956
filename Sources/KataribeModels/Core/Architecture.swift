import Foundation
import KataribeCheckpoint
import KataribeTensor

/// The sizes every decoder-only transformer has, for inspection and memory estimates.
public struct ModelShape: Sendable, Equatable {
    public var modelType: String
    public var architectures: [String]
    public var hiddenSize: Int
    public var layers: Int
    public var attentionHeads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var intermediateSize: Int
    public var vocabularySize: Int
    public var contextLength: Int
    public var rotaryDimensions: Int
    public var rotaryBase: Double
    public var parallelResidual: Bool
    public var activation: String
    public var bosTokenID: Int?
    public var eosTokenIDs: [Int]
}

/// A loaded model of any registered architecture: what loading, inspection, bench and the
/// quantized cache need to know about it.
public protocol TransformerModel: CausalLanguageModel {
    var shape: ModelShape { get }
    var statistics: WeightStatistics { get }
    var cacheLayout: KVCacheLayout { get }
    /// How the model was put together besides its weights.
    var runtime: ModelRuntime { get }
    /// The format of the linear layers (the bulk of the weights).
    var linearWeightFormat: WeightFormat { get }
    /// Bytes of one session's scratch buffers for `rows` rows per step.
    func scratchBytes(rows: Int) -> Int
}

extension TransformerModel {
    /// Tokens processed per forward step when a prompt is processed as a batch.
    public var batchCapacity: Int { runtime.batchCapacity }
    public var parallelism: Parallelism { runtime.parallelism }
    /// Where the weights came from (checkpoint, quantized at load, saved quantized model).
    public var weightSource: WeightSource { runtime.weightSource }
    /// The checkpoint files the weights came from, and their container format.
    public var files: [URL] { runtime.files }
    public var format: String { runtime.format }

    /// Parameters actually loaded (tied embeddings counted once).
    public var parameterCount: Int { statistics.parameterCount }
    /// Bytes of weights as stored.
    public var weightBytes: Int { statistics.byteCount }
    public var weightTypes: [DType: Int] { statistics.elementsByType }
    public var hasTiedEmbeddings: Bool { statistics.tiedEmbeddings }
    /// Elements per in-memory weight format (`q8`, `f16`, ...).
    public var weightFormats: [WeightFormat: Int] { statistics.elementsByFormat }
    /// Bytes of weights in memory.
    public var weightMemoryBytes: Int { statistics.memoryBytes }
    /// Element type of every session's KV cache.
    public var kvCacheFormat: KVCacheFormat { cacheLayout.format }
    /// KV cache bytes for a full context: keys and values of every layer, for the model's own
    /// number of key/value heads.
    public var fullContextCacheBytes: Int { cacheLayout.bytes(positions: contextLength) }
}

/// An architecture's forward pass over one sequence, as `DecoderSession` drives it.
protocol DecoderModel: TransformerModel {
    associatedtype Scratch
    /// Scratch buffers for up to `rows` tokens per step.
    func makeScratch(rows: Int) -> Scratch
    /// Runs the step's tokens through the network, row i at `positions[i]` (its key and value are
    /// stored in `caches[i]`, whose capacity covers its position), and writes the logits of the rows in
    /// `logitRows` to rows `0..<logitRows.count` of `logits` (packed, so a step that needs only
    /// its last row's logits needs a buffer of one row: 1 MiB rather than 128 MiB for a
    /// 262,144-token vocabulary).
    func forward(_ step: ForwardStep, scratch: Scratch, logits: FloatRows, logitRows: [Int])
}

/// Everything a loader knows about an architecture: one conformance per architecture folder,
/// listed once in `ModelRegistry`.
protocol ModelArchitecture {
    associatedtype Config: ModelConfig & Decodable
    associatedtype Weights: Sendable
    associatedtype Model: TransformerModel

    /// config.json `model_type` values this architecture reads.
    static var modelTypes: [String] { get }
    /// Checks the config's values; throws for what the architecture cannot run.
    static func validate(_ config: Config, file: String) throws(ModelError)
    /// Buffers its checkpoints may carry that are recomputed, never read.
    static func isSkippedBuffer(_ name: String) -> Bool
    /// Takes every weight by name and shape (anything missing, misshapen or left over is an error).
    static func takeWeights(_ taker: inout WeightTaker, config: Config) throws(ModelError) -> (Weights, tied: Bool)
    static func makeModel(config: Config, weights: Weights, statistics: WeightStatistics, runtime: ModelRuntime) -> Model
}

/// How a model is put together besides its weights: threads, step size, KV cache element type,
/// and where the weights came from.
public struct ModelRuntime: Sendable {
    public let parallelism: Parallelism
    public let batchCapacity: Int
    public let kvCacheFormat: KVCacheFormat
    public let weightSource: WeightSource
    public let files: [URL]
    public let format: String

    init(parallelism: Parallelism, batchCapacity: Int, kvCacheFormat: KVCacheFormat, weightSource: WeightSource,
         files: [URL], format: String) {
        self.parallelism = parallelism
        self.batchCapacity = max(1, batchCapacity)
        self.kvCacheFormat = kvCacheFormat
        self.weightSource = weightSource
        self.files = files
        self.format = format
    }

    var backend: CPUBackend { CPUBackend(parallelism: parallelism) }

    /// The KV cache of a model with these head counts, in this runtime's element type.
    func cacheLayout(layers: Int, heads: Int, kvHeads: Int, headDim: Int) -> KVCacheLayout {
        KVCacheLayout(layers: layers, kvHeads: kvHeads, headDim: headDim, queryHeads: heads, format: kvCacheFormat)
    }
}

/// Every architecture Kataribe runs. Adding one is a folder (config, weight names, forward
/// pass) and one line here.
enum ModelRegistry {
    // Computed: a stored array of metatypes is not Sendable, and building three-element lists is free.
    static var architectures: [any ModelArchitecture.Type] {
        [GPTNeoXArchitecture.self, LlamaArchitecture.self, GemmaArchitecture.self]
    }

    static func architecture(forModelType modelType: String) -> (any ModelArchitecture.Type)? {
        architectures.first { $0.modelTypes.contains(modelType) }
    }

    static var modelTypes: [String] { architectures.flatMap { $0.modelTypes } }
}
