import Foundation
import KataribeCheckpoint
import KataribeTensor

/// Loads GGUF files onto the same architectures as Hugging Face folders: the metadata becomes the
/// config.json transformers would make of it, tensor names become checkpoint names, and quantized
/// tensors stay in the file mapping in their stored formats (`GGMLMatrix`).
extension ModelLoader {
    /// The architectures with a GGUF mapping (`general.architecture` values).
    static var ggufArchitectures: [any GGUFArchitecture.Type] { [LlamaArchitecture.self, GemmaArchitecture.self,
                                                                     GPTNeoXArchitecture.self] }

    /// `general.architecture` values Kataribe runs.
    public static let supportedGGUFArchitectures = ["llama", "qwen2", "qwen3", "gemma2", "gemma3", "gptneox"]

    /// Whether `url` names a GGUF file (by extension; the reader checks the magic).
    public static func isGGUF(_ url: URL) -> Bool { url.pathExtension.lowercased() == "gguf" }

    public static func load(gguf url: URL, options: LoadOptions = LoadOptions()) throws(ModelError) -> any TransformerModel {
        let file: GGUFFile
        do { file = try GGUFFile.read(url: url) } catch { throw .checkpoint(error) }
        return try load(gguf: file, options: options)
    }

    /// Loads from a GGUF file already read (its metadata may also have given the tokenizer).
    public static func load(gguf file: GGUFFile, options: LoadOptions = LoadOptions()) throws(ModelError) -> any TransformerModel {
        let path = file.url.path
        guard let architecture = file.metadata["general.architecture"]?.string else {
            throw .missingConfigKey(file: path, key: "general.architecture")
        }
        let name = file.metadata["general.name"]?.string
        for candidate in ggufArchitectures {
            if let mapping = candidate.ggufMapping(architecture: architecture, name: name) {
                return try load(candidate, gguf: file, mapping: mapping, options: options)
            }
        }
        throw .unknownModelType(file: path, modelType: "GGUF architecture \(architecture) (supported: "
                                    + supportedGGUFArchitectures.joined(separator: ", ") + ")")
    }

    /// The config.json transformers makes of a GGUF file's metadata.
    static func ggufConfig(_ file: GGUFFile, mapping: GGUFMapping) throws(ModelError) -> ModelConfigFile {
        let path = file.url.path
        let metadata = file.metadata
        // Non-nil: load(gguf:) found the architecture before choosing the mapping.
        let architecture = metadata["general.architecture"]?.string ?? ""
        var config: [String: Any] = ["model_type": mapping.modelType]
        for (key, value) in mapping.configDefaults { config[key] = value }
        for (suffix, configKey) in mapping.configKeys {
            let key = architecture + "." + suffix
            guard let value = metadata[key] else { continue }
            if let integer = value.int {
                config[configKey] = integer
            } else if let flag = value.bool {
                config[configKey] = flag
            } else if let number = value.float {
                config[configKey] = Double(number)
            } else {
                // Per-layer arrays (e.g. head_count_kv in hybrid models) have no config.json form here.
                throw .unsupportedFeature(file: path, feature: "metadata '\(key)' is not a single number")
            }
        }
        for (suffix, configKey) in [("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id"),
                                    ("padding_token_id", "pad_token_id")] {
            if let id = metadata["tokenizer.ggml." + suffix]?.int { config[configKey] = id }
        }
        if config["vocab_size"] == nil, let tokens = metadata["tokenizer.ggml.tokens"]?.array?.count {
            config["vocab_size"] = tokens
        }
        config["tie_word_embeddings"] = !file.tensors.contains { $0.name == "output.weight" }
        if let name = mapping.ropeFrequencyFactorsTensor, let tensor = file.tensor(named: name) {
            guard tensor.shape.count == 1, let factors = file.denseTensor(tensor)?.floats() else {
                throw .unsupportedFeature(file: path, feature: "'\(name)' must be a float vector, is \(tensor.type) \(tensor.shape)")
            }
            config["rope_scaling"] = ["rope_type": "default", "gguf_rope_freqs": factors.map(Double.init)]
        }
        mapping.deriveConfig(&config)
        guard JSONSerialization.isValidJSONObject(config),
              let data = try? JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]) else {
            throw .configUnreadable(file: path, reason: "metadata does not form a config (non-finite number?)")
        }
        return ModelConfigFile(path: path, data: data, object: config)
    }

    static func load<A: GGUFArchitecture>(_ architecture: A.Type, gguf file: GGUFFile, mapping: GGUFMapping,
                                          options: LoadOptions) throws(ModelError) -> A.Model {
        let path = file.url.path
        let configFile = try ggufConfig(file, mapping: mapping)
        let config = try decodeConfig(A.self, configFile)
        let heads = configFile.object["num_attention_heads"] as? Int ?? 0
        let kvHeads = configFile.object["num_key_value_heads"] as? Int ?? heads

        var dense = TensorCollection()
        dense.format = "gguf v\(file.version)"
        dense.addFile(file.url)
        var quantized: [String: GGMLMatrix] = [:]
        var unknown: [String] = []
        var ggufNames: [String: String] = [:]
        for info in file.tensors where info.name != mapping.ropeFrequencyFactorsTensor {
            guard let name = mapping.checkpointName(info.name) else {
                unknown.append(info.name)
                continue
            }
            ggufNames[name] = info.name
            // Rows of q/k interleaved per head by llama.cpp's converter: reversed as transformers does.
            var rowOrder: [Int]? = nil
            if mapping.interleavedQueryKey, info.name.contains(".attn_q.") || info.name.contains(".attn_k.") {
                let groups = info.name.contains(".attn_q.") ? heads : kvHeads
                let rows = info.shape.first ?? 0
                guard groups > 0, rows % (2 * groups) == 0 else {
                    throw .shapeMismatch(file: path, name: info.name, expected: [groups * 2, -1], actual: info.shape)
                }
                rowOrder = Self.deinterleavedRows(rows: rows, groups: groups)
            }
            // A fused qkv written as [all q; all k; all v]: back to per head [q, k, v].
            if let fused = mapping.groupedQueryKeyValue, info.name.contains(".\(fused).") {
                let rows = info.shape.first ?? 0
                guard heads > 0, rows % (3 * heads) == 0 else {
                    throw .shapeMismatch(file: path, name: info.name, expected: [3 * heads, -1], actual: info.shape)
                }
                rowOrder = Self.perHeadQueryKeyValueRows(rows: rows, heads: heads)
            }
            if info.type.denseType != nil {
                guard var tensor = file.denseTensor(info) else {
                    throw .unsupportedFeature(file: path, feature: "tensor '\(info.name)' of type \(info.type)")
                }
                if let rowOrder { tensor = Self.permutingRows(tensor, rowOrder) }
                if mapping.normsStoredPlusOne, info.name.hasSuffix("norm.weight") { tensor = Self.minusOne(tensor) }
                do { try dense.insert(tensor, named: name, from: path) } catch { throw .checkpoint(error) }
            } else {
                guard info.shape.count == 2 else {
                    throw .unsupportedFeature(file: path, feature: "tensor '\(info.name)' is \(info.type) but not a matrix")
                }
                var matrix: GGMLMatrix
                do {
                    matrix = try GGMLMatrix(type: info.type, rows: info.shape[0], columns: info.shape[1], data: file.bytes(of: info))
                } catch {
                    throw .unsupportedFeature(file: path, feature: "tensor '\(info.name)': \(error)")
                }
                if let rowOrder { matrix = matrix.permutingRows(rowOrder) }
                quantized[name] = matrix
            }
        }
        guard unknown.isEmpty else { throw .unusedTensors(file: path, names: unknown) }

        var taker = WeightTaker(tensors: dense, location: path, format: options.weightFormat, prequantized: [:],
                                parallelism: options.parallelism, skipping: { _ in false }, ggml: quantized)
        let weights: A.Weights, tied: Bool
        do {
            (weights, tied) = try A.takeWeights(&taker, config: config)
        } catch {
            throw Self.renamingTensors(error, ggufNames, mapping: mapping)
        }
        // As for Kataribe's own quantized weights (and llama.cpp's default): a float16 cache when the
        // matrices stay quantized, float32 when they are (or become) float.
        let keepsBlocks = !quantized.isEmpty && (options.weightFormat.map { $0.denseType == nil } ?? true)
        let kvCache = options.kvCacheFormat ?? (keepsBlocks ? .float16 : .float32)
        return A.makeModel(config: config, weights: weights, statistics: taker.statistics(tiedEmbeddings: tied), runtime: ModelRuntime(
            parallelism: options.parallelism, batchCapacity: options.batchCapacity, kvCacheFormat: kvCache,
            weightSource: .checkpoint, files: [file.url], format: dense.format))
    }

    /// Row order that undoes llama.cpp's per-head interleaving: checkpoint row h·d + t·d/2 + i was
    /// written as row h·d + 2i + t (d rows per head, t ∈ {0, 1}).
    static func deinterleavedRows(rows: Int, groups: Int) -> [Int] {
        let perGroup = rows / groups, half = perGroup / 2
        var order = [Int](repeating: 0, count: rows)
        for h in 0..<groups {
            for t in 0..<2 {
                for i in 0..<half { order[h * perGroup + t * half + i] = h * perGroup + 2 * i + t }
            }
        }
        return order
    }

    /// Row order that undoes llama.cpp's regrouping of a fused qkv: checkpoint row h·3d + t·d + i
    /// (head h, t = q, k, v) was written as row t·H·d + h·d + i (H heads of d rows).
    static func perHeadQueryKeyValueRows(rows: Int, heads: Int) -> [Int] {
        let d = rows / (3 * heads)
        var order = [Int](repeating: 0, count: rows)
        for h in 0..<heads {
            for t in 0..<3 {
                for i in 0..<d { order[h * 3 * d + t * d + i] = t * heads * d + h * d + i }
            }
        }
        return order
    }

    /// `perHeadQueryKeyValueRows` for tests outside the module.
    public static func perHeadQueryKeyValueRowsForTesting(rows: Int, heads: Int) -> [Int] {
        perHeadQueryKeyValueRows(rows: rows, heads: heads)
    }

    /// `deinterleavedRows` for tests outside the module.
    public static func deinterleavedRowsForTesting(rows: Int, groups: Int) -> [Int] { deinterleavedRows(rows: rows, groups: groups) }

    /// A copy of a dense tensor with row r taken from row `order[r]` (1-D tensors: elements).
    static func permutingRows(_ tensor: RawTensor, _ order: [Int]) -> RawTensor {
        let rowBytes = tensor.byteCount / max(1, tensor.shape.first ?? 1)
        let storage = ByteStorage(count: tensor.byteCount) { target in
            guard let target = target.baseAddress else { return }
            for (r, source) in order.enumerated() {
                (target + r * rowBytes).copyMemory(from: tensor.baseAddress + source * rowBytes, byteCount: rowBytes)
            }
        }
        return RawTensor(dtype: tensor.dtype, shape: tensor.shape, storage: storage, byteOffset: 0)
    }

    /// `w - 1` in float32, as transformers' Gemma GGUF processor computes it.
    static func minusOne(_ tensor: RawTensor) -> RawTensor {
        let values = (tensor.floats() ?? []).map { $0 - 1 }
        let storage = values.withUnsafeBytes { ByteStorage(copying: $0) }
        return RawTensor(dtype: .float32, shape: tensor.shape, storage: storage, byteOffset: 0)
    }

    /// Errors about weights name the tensor as the GGUF file does.
    static func renamingTensors(_ error: ModelError, _ ggufNames: [String: String],
                                mapping: GGUFMapping? = nil) -> ModelError {
        func gguf(_ name: String) -> String {
            ggufNames[name] ?? Self.ggufName(forCheckpointName: name, globals: mapping?.globals ?? GGUFMapping.globalTensors) ?? name
        }
        switch error {
        case .missingTensor(let file, let name): return .missingTensor(file: file, name: gguf(name))
        case .shapeMismatch(let file, let name, let expected, let actual):
            return .shapeMismatch(file: file, name: gguf(name), expected: expected, actual: actual)
        case .unusedTensors(let file, let names): return .unusedTensors(file: file, names: names.map(gguf))
        default: return error
        }
    }

    /// The GGUF spelling of a checkpoint name that is absent from the file (for "missing" errors).
    static func ggufName(forCheckpointName name: String,
                         globals: [String: String] = GGUFMapping.globalTensors) -> String? {
        for (gguf, checkpoint) in globals where name.hasPrefix(checkpoint + ".") {
            return gguf + name.dropFirst(checkpoint.count)
        }
        return nil
    }
}
