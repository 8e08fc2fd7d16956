import Foundation
import KataribeSupport
import KataribeCheckpoint
import KataribeTensor

/// Options for loading a model.
public struct LoadOptions: Sendable {
    /// How many cores the forward pass uses.
    public var parallelism: Parallelism
    /// Tokens per forward chunk when a prompt is processed as a batch.
    public var batchCapacity: Int
    /// The format the linear layers run in: nil keeps the checkpoint's dtype (no copy, the
    /// weights stay in the memory-mapped file); a float format converts, `q8`/`q4` quantize.
    public var weightFormat: WeightFormat?
    /// Element type of the KV cache; nil means float32 for float weights (bit-for-bit the
    /// reference path) and float16 for quantized weights (half the bytes read per token at long
    /// contexts).
    public var kvCacheFormat: KVCacheFormat?
    /// Where quantized weights are saved and found again; nil quantizes at every load.
    public var quantizedCache: QuantizedCache?

    public init(
        parallelism: Parallelism = .automatic, batchCapacity: Int = 128, weightFormat: WeightFormat? = nil,
        kvCacheFormat: KVCacheFormat? = nil, quantizedCache: QuantizedCache? = nil
    ) {
        self.parallelism = parallelism
        self.batchCapacity = batchCapacity
        self.weightFormat = weightFormat
        self.kvCacheFormat = kvCacheFormat
        self.quantizedCache = quantizedCache
    }
}

/// A model folder's `config.json`, read once: the loader, preset inference and inspection all
/// work from this one read.
public struct ModelConfigFile: @unchecked Sendable {
    public let path: String
    public let data: Data
    /// The JSON object (values as JSONSerialization gives them; never mutated).
    public let object: [String: Any]

    /// config.json's `model_type`.
    public func modelType() throws(ModelError) -> String {
        guard let modelType = object["model_type"] as? String else { throw .missingConfigKey(file: path, key: "model_type") }
        return modelType
    }
}

/// Loads Hugging Face model directories (`config.json` + weights), choosing the architecture
/// from `model_type` through `ModelRegistry`.
public enum ModelLoader {
    /// Every `model_type` a registered architecture reads.
    public static var supportedModelTypes: [String] { ModelRegistry.modelTypes }

    /// Loads a model folder, or a GGUF file (`directory` ending in `.gguf`).
    public static func load(directory: URL, options: LoadOptions = LoadOptions()) throws(ModelError) -> any TransformerModel {
        if isGGUF(directory) { return try load(gguf: directory, options: options) }
        return try load(directory: directory, config: readConfigFile(directory: directory), options: options)
    }

    /// Loads with a `config.json` already read (see `readConfigFile`).
    public static func load(directory: URL, config file: ModelConfigFile, options: LoadOptions = LoadOptions()) throws(ModelError)
        -> any TransformerModel {
        let modelType = try file.modelType()
        guard let architecture = ModelRegistry.architecture(forModelType: modelType) else {
            throw .unknownModelType(file: file.path, modelType: modelType)
        }
        return try load(architecture, directory: directory, file: file, options: options)
    }

    /// config.json's `model_type`, and the config file's path.
    public static func readModelType(directory: URL) throws(ModelError) -> (modelType: String, file: String) {
        let file = try readConfigFile(directory: directory)
        return (try file.modelType(), file.path)
    }

    /// Reads `config.json` once (regular files only: a FIFO would block the read; config files
    /// are kilobytes).
    public static func readConfigFile(directory: URL) throws(ModelError) -> ModelConfigFile {
        let url = directory.appendingPathComponent("config.json")
        let file = url.path
        let data: Data
        do { data = try UntrustedFile.data(url, limit: 64 << 20) } catch {
            throw .configUnreadable(file: file, reason: FileManager.default.fileExists(atPath: file) ? error.reason : "file not found")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw .configUnreadable(file: file, reason: "not valid JSON")
        }
        guard let dictionary = object as? [String: Any] else { throw .configUnreadable(file: file, reason: "not a JSON object") }
        return ModelConfigFile(path: file, data: data, object: dictionary)
    }

    /// What `kataribe inspect` shows: architecture, sizes, dtypes, files and a memory estimate.
    public static func inspect(directory: URL) throws(ModelError) -> ModelInspection {
        if isGGUF(directory) {
            let file: GGUFFile
            do { file = try GGUFFile.read(url: directory) } catch { throw .checkpoint(error) }
            var inspection = ModelInspection(model: try load(gguf: file, options: LoadOptions(parallelism: .serial)), directory: directory)
            inspection.gguf = GGUFSummary(file)
            return inspection
        }
        return ModelInspection(model: try load(directory: directory, options: LoadOptions(parallelism: .serial)), directory: directory)
    }

    /// A GPT-NeoX model (what the parity tests and tools that need its configuration use).
    public static func loadGPTNeoX(directory: URL, options: LoadOptions = LoadOptions()) throws(ModelError) -> GPTNeoXModel {
        let file = try readConfigFile(directory: directory)
        let modelType = try file.modelType()
        guard GPTNeoXArchitecture.modelTypes.contains(modelType) else { throw .unknownModelType(file: file.path, modelType: modelType) }
        return try load(GPTNeoXArchitecture.self, directory: directory, file: file, options: options)
    }

    /// `config.json` of a GPT-NeoX model, decoded and validated.
    public static func readConfig(directory: URL) throws(ModelError) -> GPTNeoXConfig {
        let file = try readConfigFile(directory: directory)
        let modelType = try file.modelType()
        guard GPTNeoXArchitecture.modelTypes.contains(modelType) else { throw .unknownModelType(file: file.path, modelType: modelType) }
        return try decodeConfig(GPTNeoXArchitecture.self, file)
    }

    static func decodeConfig<A: ModelArchitecture>(_ architecture: A.Type, _ file: ModelConfigFile) throws(ModelError) -> A.Config {
        let config: A.Config
        do {
            config = try JSONDecoder().decode(A.Config.self, from: file.data)
        } catch let error as DecodingError {
            throw describe(error, file: file.path)
        } catch {
            throw .configUnreadable(file: file.path, reason: "\(error)")
        }
        try A.validate(config, file: file.path)
        return config
    }

    /// Reads the weights and checks that they match the config. With a quantized
    /// `weightFormat` and a `quantizedCache`, a saved quantized model made from the same
    /// checkpoint is mapped instead of quantizing again, and a missing or stale one is written.
    static func load<A: ModelArchitecture>(_ architecture: A.Type, directory: URL, file: ModelConfigFile,
                                           options: LoadOptions) throws(ModelError) -> A.Model {
        let config = try decodeConfig(A.self, file)
        let tensors: TensorCollection
        do {
            tensors = try CheckpointLoader.load(directory: directory)
        } catch {
            throw .checkpoint(error)
        }
        let location = checkpointLocation(directory: directory, tensors: tensors)
        let format = options.weightFormat
        let kvCache = options.kvCacheFormat ?? (format?.isQuantized == true ? .float16 : .float32)
        func take(_ source: TensorCollection, at location: String, prequantized: [String: QuantizedMatrix] = [:])
            throws(ModelError) -> (A.Weights, WeightStatistics) {
            var taker = WeightTaker(tensors: source, location: location, format: format, prequantized: prequantized,
                                    parallelism: options.parallelism, skipping: A.isSkippedBuffer)
            let (weights, tied) = try A.takeWeights(&taker, config: config)
            return (weights, taker.statistics(tiedEmbeddings: tied))
        }
        func model(_ taken: (A.Weights, WeightStatistics), source: WeightSource) -> A.Model {
            A.makeModel(config: config, weights: taken.0, statistics: taken.1, runtime: ModelRuntime(
                parallelism: options.parallelism, batchCapacity: options.batchCapacity, kvCacheFormat: kvCache,
                weightSource: source, files: tensors.files, format: tensors.format))
        }

        guard let format, format.isQuantized, let cache = options.quantizedCache else {
            return model(try take(tensors, at: location), source: format?.isQuantized == true ? .quantizedAtLoad : .checkpoint)
        }
        let fingerprint = QuantizedCache.fingerprint(directory: directory, files: tensors.files)
        let url = cache.url(forModel: directory, format: format)
        if FileManager.default.fileExists(atPath: url.path) {
            let saved: QuantizedCheckpoint
            do { saved = try QuantizedCheckpoint.read(url: url) } catch { throw .checkpoint(error) }
            if saved.source == fingerprint && saved.weightFormat == format {
                return model(try take(saved.tensors, at: url.path, prequantized: saved.matrices), source: .quantizedCache(url))
            }
        }
        let taken = try take(tensors, at: location)
        var source = WeightSource.quantizedAtLoad
        do {
            try cache.save(taken.1.saved, to: url, format: format, fingerprint: fingerprint)
            source = .quantizedAndSaved(url)
        } catch {
            source = .quantizedSaveFailed(error.description)
        }
        return model(taken, source: source)
    }

    static func describe(_ error: DecodingError, file: String) -> ModelError {
        func keyPath(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .keyNotFound(let key, let context):
            return .missingConfigKey(file: file, key: keyPath(context.codingPath + [key]))
        case .valueNotFound(_, let context):
            return .missingConfigKey(file: file, key: keyPath(context.codingPath))
        case .typeMismatch(let type, let context):
            return .invalidConfigValue(file: file, key: keyPath(context.codingPath), reason: "expected \(type)")
        case .dataCorrupted(let context):
            return .invalidConfigValue(file: file, key: keyPath(context.codingPath), reason: context.debugDescription)
        @unknown default:
            return .configUnreadable(file: file, reason: "\(error)")
        }
    }

    /// The path error messages use for problems spanning the checkpoint: its single file, or the
    /// shard index.
    static func checkpointLocation(directory: URL, tensors: TensorCollection) -> String {
        if let format = CheckpointLoader.detectFormat(in: directory) {
            return directory.appendingPathComponent(format.fileName).path
        }
        return directory.path
    }
}
