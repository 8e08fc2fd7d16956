import Foundation
import KataribeCheckpoint
import KataribeTensor

/// Gemma 2 (`Gemma2ForCausalLM`) and Gemma 3's text model (`Gemma3ForCausalLM`).
///
/// x = embed_tokens[token] · √H; then per layer (d = head_dim, norms multiply by 1 + w):
///   a = RMSNorm_in(x);  q, k, v = a·W_qᵀ, a·W_kᵀ, a·W_vᵀ
///   Gemma 3: q, k ← RMSNorm over each head; rotary with the local base on sliding layers and the
///            global base (and scaling) on the others
///   s = q·kᵀ · query_pre_attn_scalar^-½;  Gemma 2: s ← cap·tanh(s/cap)
///   o = softmax(s over the visible positions; sliding layers see the last `window`) · V
///   x = x + RMSNorm_post-attn(o·W_oᵀ)
///   x = x + RMSNorm_post-ff(W_down·(gelu_tanh(W_gate·m) ⊙ W_up·m)),  m = RMSNorm_pre-ff(x)
/// logits = RMSNorm_f(x) · W_embᵀ;  Gemma 2: logits ← cap·tanh(logits/cap).
public final class GemmaModel: DecoderModel {
    public let configuration: GemmaConfig
    public var config: any ModelConfig { configuration }
    let weights: GemmaWeights
    public let statistics: WeightStatistics
    let localRotary: RotaryEmbedding
    let globalRotary: RotaryEmbedding
    let slidingLayers: [Bool]
    let attentions: [Attention]
    let embeddingScale: Float
    let finalSoftcap: Float?
    let backend: CPUBackend
    public let parallelism: Parallelism
    public let batchCapacity: Int
    public let cacheLayout: KVCacheLayout
    public let weightSource: WeightSource
    public let files: [URL]
    public let format: String

    init(configuration: GemmaConfig, weights: GemmaWeights, statistics: WeightStatistics, local: RopeFrequencies,
         global: RopeFrequencies, context: ModelBuildContext) {
        let c = configuration
        self.configuration = c
        self.weights = weights
        self.statistics = statistics
        localRotary = RotaryEmbedding(local)
        globalRotary = RotaryEmbedding(global)
        slidingLayers = (0..<c.numHiddenLayers).map { c.isSliding(layer: $0) }
        let softcap = c.attnLogitSoftcapping.map { Float($0) }
        attentions = slidingLayers.map { sliding in
            Attention(queryHeads: c.numAttentionHeads, kvHeads: c.kvHeads, headDim: c.headDimension, scale: c.attentionScale,
                      window: sliding ? c.slidingWindow : nil, softcap: softcap)
        }
        // transformers multiplies by √H cast to the activations' dtype (float32 here).
        embeddingScale = Float(Double(c.hiddenSize).squareRoot())
        finalSoftcap = c.finalLogitSoftcapping.map { Float($0) }
        parallelism = context.parallelism
        backend = CPUBackend(parallelism: context.parallelism)
        batchCapacity = max(1, context.batchCapacity)
        cacheLayout = KVCacheLayout(layers: c.numHiddenLayers, kvHeads: c.kvHeads, headDim: c.headDimension,
                                    queryHeads: c.numAttentionHeads, format: context.kvCacheFormat)
        weightSource = context.weightSource
        files = context.files
        format = context.format
    }

    public func makeSession() -> any LanguageModelSession { DecoderSession(model: self) }

    public var shape: ModelShape {
        let c = configuration
        return ModelShape(
            modelType: c.modelType, architectures: c.architectures ?? [c.isGemma3 ? "Gemma3ForCausalLM" : "Gemma2ForCausalLM"],
            hiddenSize: c.hiddenSize, layers: c.numHiddenLayers, attentionHeads: c.numAttentionHeads, kvHeads: c.kvHeads,
            headDim: c.headDimension, intermediateSize: c.intermediateSize, vocabularySize: c.vocabSize,
            contextLength: c.contextLength, rotaryDimensions: c.headDimension, rotaryBase: c.rope(sliding: false).ropeTheta ?? 10_000,
            parallelResidual: false, activation: c.activationName, bosTokenID: c.bosTokenId, eosTokenIDs: c.eosTokenIDs)
    }

    public var linearWeightFormat: WeightFormat { weights.layers.first?.up.weight.format ?? weights.lmHead.format }

    public func scratchBytes(rows: Int) -> Int {
        let c = configuration, q = c.numAttentionHeads * c.headDimension, kv = c.kvHeads * c.headDimension
        return 4 * rows * (4 * c.hiddenSize + 2 * q + 2 * kv + 2 * c.intermediateSize + c.vocabSize + 2 * c.headDimension)
            + 4 * c.numAttentionHeads * c.contextLength
    }

    // MARK: Forward pass

    struct Scratch {
        let arena: ScratchArena
        let x, normed, query, key, value, attention, projected, gate, up, mlpOut: FloatRows
        let localCos, localSin, globalCos, globalSin: FloatRows
    }

    func makeScratch(rows: Int) -> Scratch {
        let c = configuration, arena = ScratchArena(rows: rows)
        let q = c.numAttentionHeads * c.headDimension, kv = c.kvHeads * c.headDimension, half = c.headDimension / 2
        return Scratch(
            arena: arena, x: arena.rows(width: c.hiddenSize), normed: arena.rows(width: c.hiddenSize),
            query: arena.rows(width: q), key: arena.rows(width: kv), value: arena.rows(width: kv),
            attention: arena.rows(width: q), projected: arena.rows(width: c.hiddenSize),
            gate: arena.rows(width: c.intermediateSize), up: arena.rows(width: c.intermediateSize),
            mlpOut: arena.rows(width: c.hiddenSize),
            localCos: arena.rows(width: half), localSin: arena.rows(width: half),
            globalCos: arena.rows(width: half), globalSin: arena.rows(width: half))
    }

    func forward(_ tokens: [Int], positions: [Int], cache: KVCache, scratch s: Scratch, logits: FloatRows, logitRows: Range<Int>) {
        let c = configuration, n = tokens.count, h = c.hiddenSize, d = c.headDimension
        let heads = c.numAttentionHeads, kvHeads = c.kvHeads, b = backend

        // x[n, H] = embed_tokens[token] · √H
        for (i, token) in tokens.enumerated() {
            let row = s.x.row(i)
            weights.embedTokens.row(token, into: row)
            for j in 0..<h { row[j] = row[j] * embeddingScale }
        }
        localRotary.tables(positions: positions, cos: s.localCos, sin: s.localSin)
        globalRotary.tables(positions: positions, cos: s.globalCos, sin: s.globalSin)
        let queries = Attention.Queries(base: s.query.base, rowStride: heads * d, headStride: d)

        for (layerIndex, layer) in weights.layers.enumerated() {
            let sliding = slidingLayers[layerIndex]
            let rotary = sliding ? localRotary : globalRotary
            let cosTable = sliding ? s.localCos : s.globalCos, sinTable = sliding ? s.localSin : s.globalSin

            layer.inputNorm(s.x, rows: n, into: s.normed)
            b.linear(layer.query, s.normed, rows: n, into: s.query)                       // [n, heads·d]
            b.linear(layer.key, s.normed, rows: n, into: s.key)                           // [n, kv·d]
            b.linear(layer.value, s.normed, rows: n, into: s.value)                       // [n, kv·d]
            if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
                queryNorm(s.query.base, rows: n * heads, width: d, into: s.query.base)
                keyNorm(s.key.base, rows: n * kvHeads, width: d, into: s.key.base)
            }
            for i in 0..<n {
                let cos = cosTable.row(i), sin = sinTable.row(i)
                for head in 0..<heads { rotary.rotate(s.query.row(i) + head * d, cos: cos, sin: sin) }
                for head in 0..<kvHeads {
                    let k = s.key.row(i) + head * d
                    rotary.rotate(k, cos: cos, sin: sin)
                    cache.store(layer: layerIndex, kvHead: head, position: positions[i], key: k, value: s.value.row(i) + head * d)
                }
            }
            b.attend(attentions[layerIndex], queries, positions: positions, cache: cache, layer: layerIndex, into: s.attention)
            b.linear(layer.output, s.attention, rows: n, into: s.projected)               // [n, H]
            layer.postAttentionNorm(s.projected, rows: n, into: s.projected)
            let x = s.x.base, projected = s.projected.base, mlpOut = s.mlpOut.base
            for i in 0..<(n * h) { x[i] = x[i] + projected[i] }

            layer.preFeedforwardNorm(s.x, rows: n, into: s.normed)
            b.linear(layer.gate, s.normed, rows: n, into: s.gate)                         // [n, I]
            b.linear(layer.up, s.normed, rows: n, into: s.up)                             // [n, I]
            b.activate(.geluTanh, s.gate, rows: n)
            let gate = s.gate.base, up = s.up.base
            for i in 0..<(n * c.intermediateSize) { gate[i] = gate[i] * up[i] }
            b.linear(layer.down, s.gate, rows: n, into: s.mlpOut)                         // [n, H]
            layer.postFeedforwardNorm(s.mlpOut, rows: n, into: s.mlpOut)
            for i in 0..<(n * h) { x[i] = x[i] + mlpOut[i] }
        }

        guard !logitRows.isEmpty else { return }
        let first = logitRows.lowerBound, rows = logitRows.count
        weights.finalNorm(FloatRows(base: s.x.row(first), width: h), rows: rows, into: s.normed)
        weights.lmHead.gemm(s.normed.base, count: rows, into: logits.row(first), bias: nil, parallelism: parallelism)
        if let cap = finalSoftcap {
            for r in logitRows {
                let row = logits.row(r)
                for j in 0..<logits.width { row[j] = tanhf(row[j] / cap) * cap }
            }
        }
    }
}

/// The registry entry: config.json `gemma2`, `gemma3_text`.
enum GemmaArchitecture: ModelArchitecture {
    static let modelTypes = ["gemma2", "gemma3_text"]

    static func validate(_ config: GemmaConfig, file: String) throws(ModelError) {
        try config.validate(file: file)
        _ = try frequencies(config, sliding: true, file: file)
        _ = try frequencies(config, sliding: false, file: file)
    }

    static func isSkippedBuffer(_ name: String) -> Bool { name.hasSuffix(".rotary_emb.inv_freq") }

    static func takeWeights(_ taker: inout WeightTaker, config: GemmaConfig) throws(ModelError) -> (GemmaWeights, tied: Bool) {
        try GemmaWeights.take(&taker, config: config)
    }

    static func makeModel(config: GemmaConfig, weights: GemmaWeights, statistics: WeightStatistics,
                          context: ModelBuildContext) -> GemmaModel {
        // `validate` ran on this config while decoding it, so computing the frequencies cannot fail.
        let plain = RotaryEmbeddingDefaults.frequencies(dimensions: config.headDimension, maxPositions: config.contextLength)
        let local = (try? frequencies(config, sliding: true, file: "")) ?? plain
        let global = (try? frequencies(config, sliding: false, file: "")) ?? plain
        return GemmaModel(configuration: config, weights: weights, statistics: statistics, local: local, global: global,
                          context: context)
    }

    static func frequencies(_ config: GemmaConfig, sliding: Bool, file: String) throws(ModelError) -> RopeFrequencies {
        let rope = config.rope(sliding: sliding)
        do {
            return try RopeFrequencies(dimensions: config.headDimension, base: rope.ropeTheta ?? 10_000, settings: rope,
                                       maxPositions: config.contextLength)
        } catch {
            switch error {
            case .unsupported(let kind): throw .unsupportedFeature(file: file, feature: "rope_type '\(kind)'")
            case .missing(let what, let kind): throw .invalidConfigValue(file: file, key: "rope_scaling", reason: "\(kind) needs \(what)")
            }
        }
    }
}
