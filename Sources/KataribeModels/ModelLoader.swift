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

/// Loads Hugging Face model directories (`config.json` + weights), choosing the architecture
/// from `model_type`.
public enum ModelLoader {
    public static let supportedModelTypes = ["gpt_neox"]

    public static func load(directory: URL, options: LoadOptions = LoadOptions()) throws(ModelError) -> any CausalLanguageModel {
        let (modelType, file) = try readModelType(directory: directory)
        switch modelType {
        case "gpt_neox": return try loadGPTNeoX(directory: directory, options: options)
        default: throw .unknownModelType(file: file, modelType: modelType)
        }
    }

    /// config.json's `model_type`, and the config file's path.
    public static func readModelType(directory: URL) throws(ModelError) -> (modelType: String, file: String) {
        let (dictionary, _, file) = try readConfigObject(directory: directory)
        guard let modelType = dictionary["model_type"] as? String else { throw .missingConfigKey(file: file, key: "model_type") }
        return (modelType, file)
    }

    private static func readConfigObject(directory: URL) throws(ModelError) -> ([String: Any], Data, String) {
        let url = directory.appendingPathComponent("config.json")
        let file = url.path
        let data: Data
        // Regular files only (a FIFO would block the read); config files are kilobytes.
        do { data = try UntrustedFile.data(url, limit: 64 << 20) } catch {
            throw .configUnreadable(file: file, reason: FileManager.default.fileExists(atPath: file) ? error.reason : "file not found")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw .configUnreadable(file: file, reason: "not valid JSON")
        }
        guard let dictionary = object as? [String: Any] else { throw .configUnreadable(file: file, reason: "not a JSON object") }
        return (dictionary, data, file)
    }

    /// What `kataribe inspect` shows: architecture, sizes, dtypes, files and a memory estimate.
    public static func inspect(directory: URL) throws(ModelError) -> ModelInspection {
        ModelInspection(model: try loadGPTNeoX(directory: directory, options: LoadOptions(parallelism: .serial)),
                        directory: directory)
    }

    /// Reads `config.json`, then the weights, and checks that they match. With a quantized
    /// `weightFormat` and a `quantizedCache`, a saved quantized model made from the same
    /// checkpoint is mapped instead of quantizing again, and a missing or stale one is written.
    public static func loadGPTNeoX(directory: URL, options: LoadOptions = LoadOptions()) throws(ModelError) -> GPTNeoXModel {
        let config = try readConfig(directory: directory)
        let tensors: TensorCollection
        do {
            tensors = try CheckpointLoader.load(directory: directory)
        } catch {
            throw .checkpoint(error)
        }
        let location = checkpointLocation(directory: directory, tensors: tensors)
        let format = options.weightFormat
        let kvCache = options.kvCacheFormat ?? (format?.isQuantized == true ? .float16 : .float32)
        func model(_ weights: GPTNeoXWeights, source: WeightSource, files: [URL], containerFormat: String) -> GPTNeoXModel {
            GPTNeoXModel(configuration: config, weights: weights, parallelism: options.parallelism,
                         batchCapacity: options.batchCapacity, kvCacheFormat: kvCache, weightSource: source,
                         files: files, format: containerFormat)
        }

        guard let format, format.isQuantized, let cache = options.quantizedCache else {
            let weights = try GPTNeoXWeights.load(from: tensors, config: config, location: location,
                                                  format: format, parallelism: options.parallelism)
            return model(weights, source: format?.isQuantized == true ? .quantizedAtLoad : .checkpoint,
                         files: tensors.files, containerFormat: tensors.format)
        }
        let fingerprint = QuantizedCache.fingerprint(directory: directory, files: tensors.files)
        let url = cache.url(forModel: directory, format: format)
        if FileManager.default.fileExists(atPath: url.path) {
            let saved: QuantizedCheckpoint
            do { saved = try QuantizedCheckpoint.read(url: url) } catch { throw .checkpoint(error) }
            if saved.source == fingerprint && saved.weightFormat == format {
                let weights = try GPTNeoXWeights.load(from: saved.tensors, config: config, location: url.path, format: format,
                                                      prequantized: saved.matrices, parallelism: options.parallelism)
                return model(weights, source: .quantizedCache(url), files: tensors.files, containerFormat: tensors.format)
            }
        }
        let weights = try GPTNeoXWeights.load(from: tensors, config: config, location: location,
                                              format: format, parallelism: options.parallelism)
        var source = WeightSource.quantizedAtLoad
        do {
            try cache.save(weights.savedForm(), to: url, format: format, fingerprint: fingerprint)
            source = .quantizedAndSaved(url)
        } catch {
            source = .quantizedSaveFailed(error.description)
        }
        return model(weights, source: source, files: tensors.files, containerFormat: tensors.format)
    }

    /// `config.json` of a GPT-NeoX model, decoded and validated.
    public static func readConfig(directory: URL) throws(ModelError) -> GPTNeoXConfig {
        let (dictionary, data, file) = try readConfigObject(directory: directory)
        guard let modelType = dictionary["model_type"] as? String else { throw .missingConfigKey(file: file, key: "model_type") }
        guard modelType == "gpt_neox" else { throw .unknownModelType(file: file, modelType: modelType) }
        let config: GPTNeoXConfig
        do {
            config = try JSONDecoder().decode(GPTNeoXConfig.self, from: data)
        } catch let error as DecodingError {
            throw describe(error, file: file)
        } catch {
            throw .configUnreadable(file: file, reason: "\(error)")
        }
        try config.validate(file: file)
        return config
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
