import Foundation
import KataribeSupport
import KataribeTensor

/// Finds and reads the weights in a Hugging Face model directory, whatever the container:
/// `model.safetensors`, sharded `model.safetensors.index.json`, `pytorch_model.bin` or sharded
/// `pytorch_model.bin.index.json` (preferred in that order, like transformers).
public enum CheckpointLoader {
    public enum Format: String, Sendable, CaseIterable {
        case safetensors
        case shardedSafetensors
        case pytorch
        case shardedPytorch

        /// The file that identifies the format inside a model directory.
        public var fileName: String {
            switch self {
            case .safetensors: "model.safetensors"
            case .shardedSafetensors: "model.safetensors.index.json"
            case .pytorch: "pytorch_model.bin"
            case .shardedPytorch: "pytorch_model.bin.index.json"
            }
        }
    }

    /// The format present in `directory`, if any.
    public static func detectFormat(in directory: URL) -> Format? {
        Format.allCases.first { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0.fileName).path) }
    }

    public static func load(directory: URL) throws(CheckpointError) -> TensorCollection {
        guard let format = detectFormat(in: directory) else {
            throw CheckpointError(file: directory.path, .noCheckpointFiles)
        }
        let url = directory.appendingPathComponent(format.fileName)
        switch format {
        case .safetensors: return try SafetensorsReader.read(url: url)
        case .pytorch: return try TorchCheckpointReader.read(url: url)
        case .shardedSafetensors: return try loadSharded(index: url, read: SafetensorsReader.read(url:))
        case .shardedPytorch: return try loadSharded(index: url, read: TorchCheckpointReader.read(url:))
        }
    }

    /// Reads `{"metadata": ..., "weight_map": {tensor: shard file}}` and every shard it names.
    /// Shard names must be plain file names in the same directory.
    static func loadSharded(
        index url: URL, read: (URL) throws(CheckpointError) -> TensorCollection
    ) throws(CheckpointError) -> TensorCollection {
        let path = url.path
        let data: Data
        do { data = try UntrustedFile.data(url, limit: 256 << 20) } catch {
            throw CheckpointError(file: path, .cannotOpen(error.reason))
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw CheckpointError(file: path, .invalidIndex("not valid JSON"))
        }
        guard let root = json as? [String: Any], let rawMap = root["weight_map"] as? [String: Any] else {
            throw CheckpointError(file: path, .invalidIndex("no \"weight_map\" object"))
        }
        var weightMap: [String: String] = [:]
        for (tensor, value) in rawMap {
            guard let shard = value as? String else {
                throw CheckpointError(file: path, .invalidIndex("shard of '\(tensor)' is not a string"))
            }
            guard !shard.isEmpty, !shard.contains("/"), !shard.contains("\\"), shard != ".", shard != ".." else {
                throw CheckpointError(file: path, .invalidIndex("shard name '\(shard)' is not a plain file name"))
            }
            weightMap[tensor] = shard
        }
        guard !weightMap.isEmpty else { throw CheckpointError(file: path, .invalidIndex("weight_map is empty")) }

        let directory = url.deletingLastPathComponent()
        var collection = TensorCollection()
        var shardFormat = ""
        for shard in Set(weightMap.values).sorted() {
            let part = try read(directory.appendingPathComponent(shard))
            shardFormat = part.format
            try collection.merge(part)
        }
        for (tensor, shard) in weightMap.sorted(by: { $0.key < $1.key })
        where collection.sources[tensor].map({ URL(fileURLWithPath: $0).lastPathComponent }) != shard {
            throw CheckpointError(file: path, .tensorMissingFromShard(tensor: tensor, shard: shard))
        }
        collection.format = shardFormat + " (sharded)"
        collection.addFile(url)
        return collection
    }
}
