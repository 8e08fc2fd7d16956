import KataribeCheckpoint
import KataribeTensor

/// What a model's weights amount to, counted while they were taken from the checkpoint.
public struct WeightStatistics: Sendable {
    /// Elements per stored dtype (tied matrices counted once); matrices from a saved quantized
    /// model are counted in `prequantizedElements`.
    public let elementsByType: [DType: Int]
    public let prequantizedElements: Int
    /// Elements of matrices kept in a GGUF file's block formats (tied matrices counted once).
    public let ggmlElements: [GGMLType: Int]
    /// Bytes of weights as stored in the checkpoint.
    public let byteCount: Int
    /// Elements per in-memory format (tied matrices counted once; quantized output embeddings
    /// of tied models count separately).
    public let elementsByFormat: [WeightFormat: Int]
    /// Bytes of weights in memory (quantized or converted weights count at their new size).
    public let memoryBytes: Int
    /// True when the checkpoint has no output embedding and the input embedding is reused.
    public let tiedEmbeddings: Bool
    /// What a saved quantized model of these weights holds.
    let saved: SavedWeights

    public var parameterCount: Int { elementsByType.values.reduce(0, +) + prequantizedElements + ggmlElements.values.reduce(0, +) }
}

/// Takes tensors out of a collection, checking names, shapes and dtypes, converting matrices to
/// the requested format, and remembers what was not taken.
struct WeightTaker {
    let tensors: TensorCollection
    let location: String
    let format: WeightFormat?
    let prequantized: [String: QuantizedMatrix]
    /// Matrices of a GGUF file in its block formats, by checkpoint name.
    let ggml: [String: GGMLMatrix]
    let parallelism: Parallelism
    var remaining: Set<String>
    var elementsByType: [DType: Int] = [:]
    var byteCount = 0
    var elementsByFormat: [WeightFormat: Int] = [:]
    var memoryBytes = 0
    var prequantizedElements = 0
    var ggmlElements: [GGMLType: Int] = [:]
    var saved = SavedWeights()

    /// `skipping` names the buffers an architecture's checkpoints carry that are recomputed,
    /// never read; everything else must be taken or `finish` fails.
    init(tensors: TensorCollection, location: String, format: WeightFormat?, prequantized: [String: QuantizedMatrix],
         parallelism: Parallelism, skipping isSkipped: (String) -> Bool, ggml: [String: GGMLMatrix] = [:]) {
        self.tensors = tensors
        self.ggml = ggml
        self.location = location
        self.format = format
        self.prequantized = prequantized
        self.parallelism = parallelism
        self.remaining = Set(tensors.names.filter { !isSkipped($0) } + ggml.keys)
    }

    /// What was taken, for inspection and for saving a quantized copy.
    func statistics(tiedEmbeddings: Bool) -> WeightStatistics {
        WeightStatistics(elementsByType: elementsByType, prequantizedElements: prequantizedElements, ggmlElements: ggmlElements,
                         byteCount: byteCount,
                         elementsByFormat: elementsByFormat, memoryBytes: memoryBytes, tiedEmbeddings: tiedEmbeddings,
                         saved: saved)
    }

    func has(_ name: String) -> Bool { tensors[name] != nil || prequantized[name] != nil || ggml[name] != nil }

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

    /// A matrix as stored, or converted to `format` when `convert` (the default) is set. A
    /// requested bfloat16 also runs its products with bfloat16 inputs (see
    /// `WeightMatrix.bfloat16Activations`).
    mutating func matrix(_ name: String, _ shape: [Int], convert: Bool = true) throws(ModelError) -> WeightMatrix {
        var matrix = try storedOrConverted(name, shape, convert: convert)
        if convert, format == .bfloat16, matrix.format == .bfloat16 { matrix.bfloat16Activations = true }
        return matrix
    }

    private mutating func storedOrConverted(_ name: String, _ shape: [Int], convert: Bool) throws(ModelError) -> WeightMatrix {
        if let stored = ggml[name] {
            guard [stored.rows, stored.columns] == shape else {
                throw .shapeMismatch(file: location, name: name, expected: shape, actual: [stored.rows, stored.columns])
            }
            remaining.remove(name)
            ggmlElements[stored.type, default: 0] += stored.rows * stored.columns
            byteCount += stored.data.byteCount
            let matrix = WeightMatrix(stored)
            if convert, let format, format != matrix.format { return try self.convert(matrix, savingAs: name) }
            account(matrix, stored: matrix.format)
            return matrix
        }
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
        if convert, let format, format != stored.format {
            return try self.convert(stored, savingAs: name)
        }
        saved.plain.append((name, tensor))
        account(stored, stored: stored.format)
        return stored
    }

    /// `matrix` in the requested format. A source that was converted from a file mapping gives
    /// its pages back, so loading costs the converted size in memory, not both.
    mutating func convert(_ matrix: WeightMatrix, savingAs name: String) throws(ModelError) -> WeightMatrix {
        // The same matrix, unconverted (a tied output embedding): its memory is already counted.
        guard let format, format != matrix.format else { return matrix }
        let converted: WeightMatrix
        do {
            converted = try matrix.converted(to: format, parallelism: parallelism)
        } catch {
            throw .unsupportedFeature(file: location, feature: "converting '\(name)' to \(format): \(error)")
        }
        if let quantized = converted.quantizedMatrix { saved.matrices.append((name, quantized)) }
        // Any converted copy (quantized, or float16 → bfloat16 for `--dtype bf16`) replaces its
        // source: a 7 GB float16 checkpoint run as bfloat16 peaked at 14.4 GiB with both resident.
        matrix.denseTensor?.releasePages()
        account(converted, stored: converted.format)
        return converted
    }

    mutating func account(_ matrix: WeightMatrix, stored: WeightFormat) {
        elementsByFormat[stored, default: 0] += matrix.rows * matrix.columns
        memoryBytes += matrix.byteCount
    }

    mutating func vector(_ name: String, _ count: Int) throws(ModelError) -> [Float] {
        if let stored = ggml[name] {
            // llama.cpp keeps 1-D tensors in F32; a block-quantized vector is not something it writes.
            throw .unsupportedFeature(file: location, feature: "vector '\(name)' stored as \(stored.type)")
        }
        let tensor = try take(name, [count])
        saved.plain.append((name, tensor))
        elementsByFormat[WeightFormat(tensor.dtype) ?? .float32, default: 0] += count
        memoryBytes += count * 4
        // Non-nil: take() only returns floating tensors.
        return tensor.floats() ?? []
    }

    mutating func layerNorm(_ prefix: String, _ size: Int, epsilon: Float) throws(ModelError) -> LayerNorm {
        LayerNorm(weight: try vector(prefix + ".weight", size), bias: try vector(prefix + ".bias", size), epsilon: epsilon)
    }

    mutating func linear(_ prefix: String, out: Int, in inputs: Int, bias: Bool) throws(ModelError) -> LinearLayer {
        LinearLayer(weight: try matrix(prefix + ".weight", [out, inputs]),
                    bias: bias ? try vector(prefix + ".bias", out) : nil)
    }

    func finish() throws(ModelError) {
        guard remaining.isEmpty else { throw .unusedTensors(file: location, names: remaining.sorted()) }
    }
}
