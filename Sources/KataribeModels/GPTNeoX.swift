import Foundation
import KataribeCheckpoint
import KataribeTensor

/// GPT-NeoX (`GPTNeoXForCausalLM`): open-calm, rinna japanese-gpt-neox, Pythia.
///
/// Per layer, for a batch of n new tokens (shapes in comments, H = hidden, I = intermediate):
///   a   = LayerNorm₁(x)                        [n, H]
///   qkv = a · W_qkvᵀ + b                       [n, 3H], head h owns columns [q | k | v] at h·3d
///   q,k ← rotary(q, k) on the first rotary_ndims of each head (NeoX "rotate_half" layout)
///   o   = causal softmax(q·Kᵀ/√d) · V          [n, H], K/V include the cached positions
///   o   = o · W_denseᵀ + b                     [n, H]
///   sequential: x = x + o;  x = x + MLP(LayerNorm₂(x))
///   parallel:   x = MLP(LayerNorm₂(x)) + o + x
/// with MLP(y) = act(y · W_upᵀ + b) · W_downᵀ + b, then logits = LayerNorm_f(x) · W_outᵀ.
public final class GPTNeoXModel: CausalLanguageModel {
    /// The full config.json (the protocol's `config` exposes the architecture-neutral part).
    public let configuration: GPTNeoXConfig
    public var config: any ModelConfig { configuration }
    let weights: GPTNeoXWeights
    let activation: Activation
    public let parallelism: Parallelism
    /// Tokens processed per forward chunk: bounds scratch memory for long prompts.
    public let batchCapacity: Int
    /// Element type of every session's KV cache.
    public let kvCacheFormat: KVCacheFormat
    /// Where the weights came from (checkpoint, quantized at load, saved quantized model).
    public let weightSource: WeightSource
    /// `1 / base^(2j / rotary_ndims)` in Float, as transformers computes it.
    let inverseFrequencies: [Float]

    /// The checkpoint files the weights came from, and their container format.
    public let files: [URL]
    public let format: String

    init(
        configuration: GPTNeoXConfig, weights: GPTNeoXWeights, parallelism: Parallelism, batchCapacity: Int = 128,
        kvCacheFormat: KVCacheFormat = .float32, weightSource: WeightSource = .checkpoint,
        files: [URL] = [], format: String = ""
    ) {
        self.kvCacheFormat = kvCacheFormat
        self.weightSource = weightSource
        self.configuration = configuration
        self.files = files
        self.format = format
        self.weights = weights
        self.activation = Activation(configName: configuration.activationName) ?? .gelu
        self.parallelism = parallelism
        self.batchCapacity = max(1, batchCapacity)
        let dims = configuration.rotaryDimensions
        let base = Float(configuration.rotaryBase)
        self.inverseFrequencies = stride(from: 0, to: dims, by: 2).map { j in
            1 / powf(base, Float(j) / Float(dims))
        }
    }

    public func makeSession() -> any LanguageModelSession { GPTNeoXSession(model: self) }

    /// Parameters actually loaded (tied embeddings counted once).
    public var parameterCount: Int { weights.parameterCount }
    /// Bytes of weights (as stored).
    public var weightBytes: Int { weights.byteCount }
    public var weightTypes: [DType: Int] { weights.elementsByType }
    public var hasTiedEmbeddings: Bool { weights.embedOutIsTied }

    /// Elements per in-memory weight format (`q8`, `f16`, ...).
    public var weightFormats: [WeightFormat: Int] { weights.elementsByFormat }
    /// Bytes of weights in memory (quantized or converted weights count at their new size).
    public var weightMemoryBytes: Int { weights.memoryBytes }
    /// The format of the linear layers (the bulk of the weights).
    public var linearWeightFormat: WeightFormat { weights.layers.first?.mlpUp.weight.format ?? weights.embedOut.format }

    /// KV cache bytes for a full context (keys and values for every layer).
    public var fullContextCacheBytes: Int {
        2 * configuration.numHiddenLayers * configuration.contextLength * configuration.hiddenSize * (kvCacheFormat == .float16 ? 2 : 4)
    }
}
