import Foundation
import KataribeCheckpoint
import KataribeTensor

/// GPT-NeoX (`GPTNeoXForCausalLM`): open-calm, rinna japanese-gpt-neox, Pythia.
///
/// Per layer, for n rows (shapes in comments, H = hidden, I = intermediate, d = head_dim):
///   a   = LayerNorm₁(x)                        [n, H]
///   qkv = a · W_qkvᵀ + b                       [n, 3H], head h owns columns [q | k | v] at h·3d
///   q,k ← rotary(q, k) on the first rotary_ndims of each head (NeoX "rotate_half" layout)
///   o   = causal softmax(q·Kᵀ/√d) · V          [n, H], K/V include the cached positions
///   o   = o · W_denseᵀ + b                     [n, H]
///   sequential: x = x + o;  x = x + MLP(LayerNorm₂(x))
///   parallel:   x = MLP(LayerNorm₂(x)) + o + x
/// with MLP(y) = act(y · W_upᵀ + b) · W_downᵀ + b, then logits = LayerNorm_f(x) · W_outᵀ.
public final class GPTNeoXModel: DecoderModel {
    /// The full config.json (the protocol's `config` exposes the architecture-neutral part).
    public let configuration: GPTNeoXConfig
    public var config: any ModelConfig { configuration }
    let weights: GPTNeoXWeights
    public let statistics: WeightStatistics
    let activation: Activation
    let rotary: RotaryEmbedding
    let attention: Attention
    let backend: CPUBackend
    public let runtime: ModelRuntime
    public let cacheLayout: KVCacheLayout

    init(configuration: GPTNeoXConfig, weights: GPTNeoXWeights, statistics: WeightStatistics, runtime: ModelRuntime) {
        let c = configuration
        self.configuration = c
        self.weights = weights
        self.statistics = statistics
        activation = Activation(configName: c.activationName) ?? .gelu
        rotary = RotaryEmbedding(dimensions: c.rotaryDimensions, base: c.rotaryBase)
        attention = Attention(queryHeads: c.numAttentionHeads, kvHeads: c.numAttentionHeads, headDim: c.headDimension)
        self.runtime = runtime
        backend = runtime.backend
        cacheLayout = runtime.cacheLayout(layers: c.numHiddenLayers, heads: c.numAttentionHeads, kvHeads: c.numAttentionHeads,
                                          headDim: c.headDimension)
    }

    public func makeSession() -> any LanguageModelSession { DecoderSession(model: self) }
    public func makeBatch(capacity: Int) -> any SequenceBatch { DecoderBatch(model: self, capacity: capacity) }

    public var shape: ModelShape {
        let c = configuration
        return ModelShape(
            modelType: c.modelType, architectures: c.architectures ?? ["GPTNeoXForCausalLM"], hiddenSize: c.hiddenSize,
            layers: c.numHiddenLayers, attentionHeads: c.numAttentionHeads, kvHeads: c.numAttentionHeads,
            headDim: c.headDimension, intermediateSize: c.intermediateSize, vocabularySize: c.vocabSize,
            contextLength: c.contextLength, rotaryDimensions: c.rotaryDimensions, rotaryBase: c.rotaryBase,
            parallelResidual: c.parallelResidual, activation: c.activationName, bosTokenID: c.bosTokenId,
            eosTokenIDs: c.eosTokenIDs)
    }

    public var linearWeightFormat: WeightFormat { weights.layers.first?.mlpUp.weight.format ?? weights.embedOut.format }

    public func scratchBytes(rows: Int) -> Int {
        let c = configuration
        return 4 * rows * (7 * c.hiddenSize + c.intermediateSize) + 4 * c.vocabSize + 4 * c.numAttentionHeads * c.contextLength
    }

    // MARK: Forward pass

    struct Scratch {
        let arena: ScratchArena
        let x, normed, qkv, attention, projected, up, mlpOut, rotaryCos, rotarySin: FloatRows
    }

    func makeScratch(rows: Int) -> Scratch {
        let c = configuration, arena = ScratchArena(rows: rows), half = rotary.half
        return Scratch(
            arena: arena,
            x: arena.rows(width: c.hiddenSize),                 // residual stream
            normed: arena.rows(width: c.hiddenSize),            // LayerNorm output
            qkv: arena.rows(width: 3 * c.hiddenSize),           // fused projection
            attention: arena.rows(width: c.hiddenSize),         // heads concatenated
            projected: arena.rows(width: c.hiddenSize),         // attention dense output
            up: arena.rows(width: c.intermediateSize),          // MLP hidden
            mlpOut: arena.rows(width: c.hiddenSize),            // MLP output
            rotaryCos: arena.rows(width: half), rotarySin: arena.rows(width: half))
    }

    func forward(_ step: ForwardStep, scratch s: Scratch, logits: FloatRows, logitRows: [Int]) {
        let n = step.count, h = configuration.hiddenSize, d = configuration.headDimension, heads = configuration.numAttentionHeads
        let b = backend.running(step)

        // x[n, H] = embed_in[token]
        for (i, token) in step.tokens.enumerated() { weights.embedIn.row(token, into: s.x.row(i)) }
        rotary.tables(step, cos: s.rotaryCos, sin: s.rotarySin)
        let queries = Attention.Queries(base: s.qkv.base, rowStride: 3 * h, headStride: 3 * d)

        for (layerIndex, layer) in weights.layers.enumerated() {
            // Attention block
            b.layerNorm(layer.inputLayerNorm, s.x, rows: n, into: s.normed)
            b.linear(layer.queryKeyValue, s.normed, rows: n, into: s.qkv)                    // [n, 3H]
            for i in 0..<n {
                let row = s.qkv.row(i), cos = s.rotaryCos.row(i), sin = s.rotarySin.row(i)
                for head in 0..<heads {
                    let q = row + head * 3 * d, k = q + d, v = k + d
                    rotary.rotate(q, cos: cos, sin: sin)
                    rotary.rotate(k, cos: cos, sin: sin)
                    step.caches[i].store(layer: layerIndex, kvHead: head, position: step.positions[i], key: k, value: v)
                }
            }
            b.attend(attention, queries, step: step, layer: layerIndex, into: s.attention)                // [n, H]
            b.linear(layer.attentionDense, s.attention, rows: n, into: s.projected)

            let x = s.x.base, projected = s.projected.base, mlpOut = s.mlpOut.base
            if configuration.parallelResidual {
                // x = mlp(ln2(x)) + attn + x
                b.layerNorm(layer.postAttentionLayerNorm, s.x, rows: n, into: s.normed)
                mlp(layer, rows: n, scratch: s, backend: b)
                for i in 0..<(n * h) { x[i] = (mlpOut[i] + projected[i]) + x[i] }
            } else {
                // x = x + attn; x = x + mlp(ln2(x))
                for i in 0..<(n * h) { x[i] = projected[i] + x[i] }
                b.layerNorm(layer.postAttentionLayerNorm, s.x, rows: n, into: s.normed)
                mlp(layer, rows: n, scratch: s, backend: b)
                for i in 0..<(n * h) { x[i] = mlpOut[i] + x[i] }
            }
        }

        // logits[i, V] = ln_f(x[logitRows[i]]) · W_outᵀ
        b.outputLogits(step, rows: logitRows, x: s.x, normed: s.normed, norm: { b.layerNorm(weights.finalLayerNorm, $0, rows: $1, into: $2) },
                       head: weights.embedOut, into: logits)
    }

    /// mlpOut[n, H] = act(normed · W_upᵀ + b) · W_downᵀ + b
    private func mlp(_ layer: GPTNeoXLayerWeights, rows n: Int, scratch s: Scratch, backend: CPUBackend) {
        backend.linear(layer.mlpUp, s.normed, rows: n, into: s.up)                           // [n, I]
        backend.activate(activation, s.up, rows: n)
        backend.linear(layer.mlpDown, s.up, rows: n, into: s.mlpOut)                         // [n, H]
    }
}

/// The registry entry: config.json `gpt_neox`.
enum GPTNeoXArchitecture: ModelArchitecture {
    static let modelTypes = ["gpt_neox"]

    static func validate(_ config: GPTNeoXConfig, file: String) throws(ModelError) { try config.validate(file: file) }

    static func isSkippedBuffer(_ name: String) -> Bool { GPTNeoXWeights.isSkippedBuffer(name) }

    static func takeWeights(_ taker: inout WeightTaker, config: GPTNeoXConfig) throws(ModelError) -> (GPTNeoXWeights, tied: Bool) {
        try GPTNeoXWeights.take(&taker, config: config)
    }

    static func makeModel(config: GPTNeoXConfig, weights: GPTNeoXWeights, statistics: WeightStatistics,
                          runtime: ModelRuntime) -> GPTNeoXModel {
        GPTNeoXModel(configuration: config, weights: weights, statistics: statistics, runtime: runtime)
    }
}
