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
    /// Elements per stored dtype (tied matrices counted once); matrices from a saved quantized
    /// model are counted in `prequantizedElements`.
    let elementsByType: [DType: Int]
    let prequantizedElements: Int
    /// Bytes of weights as stored in the checkpoint.
    let byteCount: Int
    /// Elements per in-memory format (tied matrices counted once; quantized output embeddings
    /// of tied models count separately).
    let elementsByFormat: [WeightFormat: Int]
    /// Bytes of weights in memory.
    let memoryBytes: Int
    /// What a saved quantized model of these weights holds.
    let saved: SavedWeights

    var parameterCount: Int { elementsByType.values.reduce(0, +) + prequantizedElements }

    /// Causal-mask and rotary buffers that transformers < 4.3x saved with every layer; they are
    /// recomputed, never read (transformers ignores them the same way).
    static func isSkippedBuffer(_ name: String) -> Bool {
        name.hasSuffix(".attention.bias") || name.hasSuffix(".attention.masked_bias") || name.hasSuffix(".rotary_emb.inv_freq")
    }

    /// Takes every weight from `tensors` (and quantized matrices from `prequantized`). With a
    /// `format`, the linear layers and the output embedding are converted to it; the input
    /// embedding is converted only to float formats (it is only ever read a row at a time).
    static func load(
        from tensors: TensorCollection, config: GPTNeoXConfig, location: String, format: WeightFormat? = nil,
        prequantized: [String: QuantizedMatrix] = [:], parallelism: Parallelism = .serial
    ) throws(ModelError) -> GPTNeoXWeights {
        var taker = TensorTaker(tensors: tensors, location: location, format: format, prequantized: prequantized,
                                parallelism: parallelism)
        let h = config.hiddenSize, i = config.intermediateSize, v = config.vocabSize
        let bias = config.hasAttentionBias

        let embedIn = try taker.matrix("gpt_neox.embed_in.weight", [v, h], convert: format?.isQuantized == false)
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
        // so a state dict saved from it may use that name. (A saved quantized model stores the
        // quantized output embedding of a tied model as embed_out.weight.)
        let embedOut: WeightMatrix
        var tied = false
        if taker.has("embed_out.weight") {
            embedOut = try taker.matrix("embed_out.weight", [v, h])
        } else if taker.has("lm_head.weight") {
            embedOut = try taker.matrix("lm_head.weight", [v, h])
        } else if config.tiedEmbeddings {
            embedOut = try taker.convert(embedIn, savingAs: "embed_out.weight")
            tied = true
        } else {
            throw .missingTensor(file: location, name: "embed_out.weight")
        }
        try taker.finish()
        return GPTNeoXWeights(
            embedIn: embedIn, layers: layers, finalLayerNorm: finalLayerNorm, embedOut: embedOut,
            embedOutIsTied: tied, elementsByType: taker.elementsByType, prequantizedElements: taker.prequantizedElements,
            byteCount: taker.byteCount,
            elementsByFormat: taker.elementsByFormat, memoryBytes: taker.memoryBytes, saved: taker.saved)
    }

    /// The tensors to write for a saved quantized model.
    func savedForm() -> SavedWeights { saved }
}

/// Takes tensors out of a collection, checking names, shapes and dtypes, converting matrices to
/// the requested format, and remembers what was not taken.
private struct TensorTaker {
    let tensors: TensorCollection
    let location: String
    let format: WeightFormat?
    let prequantized: [String: QuantizedMatrix]
    let parallelism: Parallelism
    var remaining: Set<String>
    var elementsByType: [DType: Int] = [:]
    var byteCount = 0
    var elementsByFormat: [WeightFormat: Int] = [:]
    var memoryBytes = 0
    var prequantizedElements = 0
    var saved = SavedWeights()

    init(tensors: TensorCollection, location: String, format: WeightFormat?, prequantized: [String: QuantizedMatrix],
         parallelism: Parallelism) {
        self.tensors = tensors
        self.location = location
        self.format = format
        self.prequantized = prequantized
        self.parallelism = parallelism
        self.remaining = Set(tensors.names.filter { !GPTNeoXWeights.isSkippedBuffer($0) })
    }

    func has(_ name: String) -> Bool { tensors[name] != nil || prequantized[name] != nil }

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

    /// A matrix as stored, or converted to `format` when `convert` (the default) is set.
    mutating func matrix(_ name: String, _ shape: [Int], convert: Bool = true) throws(ModelError) -> WeightMatrix {
        if let quantized = prequantized[name] {
            guard [quantized.rows, quantized.columns] == shape else {
                throw .shapeMismatch(file: location, name: name, expected: shape, actual: [quantized.rows, quantized.columns])
            }
            saved.matrices.append((name, quantized))
            prequantizedElements += quantized.rows * quantized.columns
            account(WeightMatrix(quantized), stored: quantized.format)
            return WeightMatrix(quantized)
        }
        let tensor = try take(name, shape)
        let stored: WeightMatrix
        do {
            stored = try WeightMatrix(tensor)
        } catch {
            throw .unsupportedTensorType(file: tensors.sources[name] ?? location, name: name, dtype: tensor.dtype)
        }
        if convert, format != nil {
            return try self.convert(stored, savingAs: name)
        }
        saved.plain.append((name, tensor))
        account(stored, stored: stored.format)
        return stored
    }

    /// `matrix` in the requested format. A source that was quantized from a file mapping gives
    /// its pages back, so loading costs the quantized size in memory, not both.
    mutating func convert(_ matrix: WeightMatrix, savingAs name: String) throws(ModelError) -> WeightMatrix {
        guard let format, format != matrix.format else {
            account(matrix, stored: matrix.format)
            return matrix
        }
        let converted: WeightMatrix
        do {
            converted = try matrix.converted(to: format, parallelism: parallelism)
        } catch {
            throw .unsupportedFeature(file: location, feature: "converting '\(name)' to \(format): \(error)")
        }
        if let quantized = converted.quantizedMatrix {
            saved.matrices.append((name, quantized))
            matrix.denseTensor?.releasePages()
        }
        account(converted, stored: converted.format)
        return converted
    }

    mutating func account(_ matrix: WeightMatrix, stored: WeightFormat) {
        elementsByFormat[stored, default: 0] += matrix.rows * matrix.columns
        memoryBytes += matrix.byteCount
    }

    mutating func vector(_ name: String, _ count: Int) throws(ModelError) -> [Float] {
        let tensor = try take(name, [count])
        saved.plain.append((name, tensor))
        elementsByFormat[WeightFormat(tensor.dtype) ?? .float32, default: 0] += count
        memoryBytes += count * 4
        // Non-nil: take() only returns floating tensors.
        return tensor.floats() ?? []
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
