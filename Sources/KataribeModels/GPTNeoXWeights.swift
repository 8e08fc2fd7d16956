import KataribeCheckpoint
import KataribeTensor

/// A LayerNorm's parameters, widened to Float (they are tiny).
struct LayerNormWeights: Sendable {
    let weight: [Float]
    let bias: [Float]
}

/// A `nn.Linear`: the weight stays in its stored dtype, the (small) bias is widened to Float.
struct LinearLayer: Sendable {
    let weight: WeightMatrix
    let bias: [Float]?

    /// `y[n, out] = x[n, in] · Wᵀ + b`.
    func apply(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>, parallelism: Parallelism) {
        if let bias {
            bias.withUnsafeBufferPointer { b in
                weight.gemm(x, count: count, into: y, bias: b.baseAddress, parallelism: parallelism)
            }
        } else {
            weight.gemm(x, count: count, into: y, bias: nil, parallelism: parallelism)
        }
    }
}

struct GPTNeoXLayerWeights: Sendable {
    let inputLayerNorm: LayerNormWeights
    let postAttentionLayerNorm: LayerNormWeights
    /// `[3 * hidden, hidden]`; output row block of head h is `[q | k | v]` of `head_dim` each.
    let queryKeyValue: LinearLayer
    let attentionDense: LinearLayer
    let mlpUp: LinearLayer
    let mlpDown: LinearLayer
}

/// All GPT-NeoX weights, taken from a checkpoint by name. This is the ONE place that knows the
/// checkpoint layout: every expected name and shape is listed here, anything missing, misshapen
/// or left over is an error, and the buffers older transformers saved are skipped by name.
struct GPTNeoXWeights: Sendable {
    let embedIn: WeightMatrix
    let layers: [GPTNeoXLayerWeights]
    let finalLayerNorm: LayerNormWeights
    let embedOut: WeightMatrix
    /// True when the checkpoint has no `embed_out.weight` and the input embedding is reused.
    let embedOutIsTied: Bool
    /// Elements per stored dtype (tied matrices counted once).
    let elementsByType: [DType: Int]
    let byteCount: Int

    var parameterCount: Int { elementsByType.values.reduce(0, +) }

    /// Causal-mask and rotary buffers that transformers < 4.3x saved with every layer; they are
    /// recomputed, never read (transformers ignores them the same way).
    static func isSkippedBuffer(_ name: String) -> Bool {
        name.hasSuffix(".attention.bias") || name.hasSuffix(".attention.masked_bias") || name.hasSuffix(".rotary_emb.inv_freq")
    }

    static func load(from tensors: TensorCollection, config: GPTNeoXConfig, location: String) throws(ModelError) -> GPTNeoXWeights {
        var taker = TensorTaker(tensors: tensors, location: location)
        let h = config.hiddenSize, i = config.intermediateSize, v = config.vocabSize
        let bias = config.hasAttentionBias

        let embedIn = try taker.matrix("gpt_neox.embed_in.weight", [v, h])
        var layers: [GPTNeoXLayerWeights] = []
        for n in 0..<config.numHiddenLayers {
            let p = "gpt_neox.layers.\(n)."
            layers.append(GPTNeoXLayerWeights(
                inputLayerNorm: try taker.layerNorm(p + "input_layernorm", h),
                postAttentionLayerNorm: try taker.layerNorm(p + "post_attention_layernorm", h),
                queryKeyValue: try taker.linear(p + "attention.query_key_value", out: 3 * h, in: h, bias: bias),
                attentionDense: try taker.linear(p + "attention.dense", out: h, in: h, bias: bias),
                mlpUp: try taker.linear(p + "mlp.dense_h_to_4h", out: i, in: h, bias: true),
                mlpDown: try taker.linear(p + "mlp.dense_4h_to_h", out: h, in: i, bias: true)))
        }
        let finalLayerNorm = try taker.layerNorm("gpt_neox.final_layer_norm", h)

        // Like transformers: a stored output embedding wins even when the config says "tied";
        // without one, a tied model reuses embed_in. transformers 5 names it lm_head in memory,
        // so a state dict saved from it may use that name.
        let embedOut: WeightMatrix
        var tied = false
        if tensors["embed_out.weight"] != nil {
            embedOut = try taker.matrix("embed_out.weight", [v, h])
        } else if tensors["lm_head.weight"] != nil {
            embedOut = try taker.matrix("lm_head.weight", [v, h])
        } else if config.tiedEmbeddings {
            embedOut = embedIn
            tied = true
        } else {
            throw .missingTensor(file: location, name: "embed_out.weight")
        }
        try taker.finish()
        return GPTNeoXWeights(
            embedIn: embedIn, layers: layers, finalLayerNorm: finalLayerNorm, embedOut: embedOut,
            embedOutIsTied: tied, elementsByType: taker.elementsByType, byteCount: taker.byteCount)
    }
}

/// Takes tensors out of a collection, checking names, shapes and dtypes, and remembers what
/// was not taken.
private struct TensorTaker {
    let tensors: TensorCollection
    let location: String
    var remaining: Set<String>
    var elementsByType: [DType: Int] = [:]
    var byteCount = 0

    init(tensors: TensorCollection, location: String) {
        self.tensors = tensors
        self.location = location
        self.remaining = Set(tensors.names.filter { !GPTNeoXWeights.isSkippedBuffer($0) })
    }

    mutating func take(_ name: String, _ shape: [Int]) throws(ModelError) -> RawTensor {
        guard let tensor = tensors[name] else { throw .missingTensor(file: location, name: name) }
        let file = tensors.sources[name] ?? location
        guard tensor.shape == shape else {
            throw .shapeMismatch(file: file, name: name, expected: shape, actual: tensor.shape)
        }
        guard tensor.dtype.isWeightType else { throw .unsupportedTensorType(file: file, name: name, dtype: tensor.dtype) }
        remaining.remove(name)
        elementsByType[tensor.dtype, default: 0] += tensor.elementCount
        byteCount += tensor.byteCount
        return tensor
    }

    mutating func matrix(_ name: String, _ shape: [Int]) throws(ModelError) -> WeightMatrix {
        let tensor = try take(name, shape)
        do {
            return try WeightMatrix(tensor)
        } catch {
            throw .unsupportedTensorType(file: tensors.sources[name] ?? location, name: name, dtype: tensor.dtype)
        }
    }

    mutating func vector(_ name: String, _ count: Int) throws(ModelError) -> [Float] {
        // Non-nil: take() only returns floating tensors.
        try take(name, [count]).floats() ?? []
    }

    mutating func layerNorm(_ prefix: String, _ size: Int) throws(ModelError) -> LayerNormWeights {
        LayerNormWeights(weight: try vector(prefix + ".weight", size), bias: try vector(prefix + ".bias", size))
    }

    mutating func linear(_ prefix: String, out: Int, in inputs: Int, bias: Bool) throws(ModelError) -> LinearLayer {
        LinearLayer(weight: try matrix(prefix + ".weight", [out, inputs]),
                    bias: bias ? try vector(prefix + ".bias", out) : nil)
    }

    func finish() throws(ModelError) {
        guard remaining.isEmpty else { throw .unusedTensors(file: location, names: remaining.sorted()) }
    }
}
