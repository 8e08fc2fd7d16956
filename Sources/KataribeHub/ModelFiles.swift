import Foundation

/// Which files of a repository a model needs: configuration, tokenizer and ONE weight format, never the
/// duplicates (a repo with safetensors and .bin weights would otherwise cost twice the download).
public enum ModelFiles {
    /// Downloaded whenever the repository has them.
    public static let configurationFiles = ["config.json", "generation_config.json"]
    public static let tokenizerFiles = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "vocab.json", "vocab.txt", "merges.txt", "chat_template.jinja",
    ]

    /// The weight formats in transformers' order of preference (`modeling_utils`): single safetensors,
    /// sharded safetensors, single PyTorch pickle, sharded PyTorch pickle.
    public enum WeightFormat: String, CaseIterable, Sendable, Codable {
        case safetensors = "model.safetensors"
        case safetensorsSharded = "model.safetensors.index.json"
        case pytorch = "pytorch_model.bin"
        case pytorchSharded = "pytorch_model.bin.index.json"

        public var isSharded: Bool { self == .safetensorsSharded || self == .pytorchSharded }
    }

    /// What to fetch from a repository listing.
    public struct Plan: Equatable, Sendable {
        /// Configuration and tokenizer files present in the repository.
        public var supportFiles: [String]
        public var weightFormat: WeightFormat
        /// Known optional files the repository lacks (recorded as `.no_exist` markers).
        public var absentFiles: [String]
    }

    /// Chooses the files from the repository's file list (the `siblings` of the model info).
    public static func plan(repositoryFiles: [String], repo: RepoID, revision: String) throws(HubError) -> Plan {
        let available = Set(repositoryFiles)
        let wanted = configurationFiles + tokenizerFiles
        let sentencePieceModels = repositoryFiles.filter { !$0.contains("/") && $0.hasSuffix(".model") }.sorted()
        guard let format = WeightFormat.allCases.first(where: { available.contains($0.rawValue) }) else {
            throw HubError.noWeights(repo: repo.rawValue, revision: revision)
        }
        return Plan(
            supportFiles: wanted.filter(available.contains) + sentencePieceModels,
            weightFormat: format,
            absentFiles: wanted.filter { !available.contains($0) }
        )
    }

    /// The shard files a `*.index.json` names in its `weight_map`, sorted and without duplicates.
    public static func shardNames(indexFile: URL, displayName: String) throws(HubError) -> [String] {
        let data: Data
        do {
            data = try Data(contentsOf: indexFile)
        } catch {
            throw HubError.badShardIndex(file: displayName, reason: "cannot read it: \(FileSystem.reason(error))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw HubError.badShardIndex(file: displayName, reason: "not a JSON object")
        }
        guard let weightMap = object["weight_map"] as? [String: Any] else {
            throw HubError.badShardIndex(file: displayName, reason: "no \"weight_map\" object")
        }
        var shards = Set<String>()
        for (tensor, value) in weightMap {
            guard let shard = value as? String else {
                throw HubError.badShardIndex(file: displayName, reason: "weight_map entry for '\(tensor)' is not a file name")
            }
            shards.insert(shard)
        }
        guard !shards.isEmpty else { throw HubError.badShardIndex(file: displayName, reason: "weight_map is empty") }
        return shards.sorted()
    }

    /// The files that make a cached snapshot usable, or what it lacks. Used where no file list is
    /// available (offline): config.json plus one complete weight format.
    static func missingFiles(inSnapshot folder: URL) -> [String] {
        let fileManager = FileManager.default
        func has(_ path: String) -> Bool {
            var isDirectory: ObjCBool = false
            return fileManager.fileExists(atPath: folder.appendingPathComponent(path).path, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }
        var missing = has("config.json") ? [] : ["config.json"]
        guard let format = WeightFormat.allCases.first(where: { has($0.rawValue) }) else {
            return missing + ["model.safetensors or pytorch_model.bin"]
        }
        if format.isSharded {
            let index = folder.appendingPathComponent(format.rawValue)
            guard let shards = try? shardNames(indexFile: index, displayName: format.rawValue) else {
                return missing + [format.rawValue]
            }
            missing += shards.filter { !has($0) }
        }
        return missing
    }
}
