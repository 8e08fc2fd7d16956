import Foundation
import KataribeCheckpoint
import KataribeTensor

/// Where quantized models are saved so the next load maps them instead of quantizing again
/// (`LoadOptions.quantizedCache`). One file per model directory and format, named after the
/// directory plus a hash of its path; a file made from different checkpoint files (by name,
/// size and modification time) is stale and rebuilt.
public struct QuantizedCache: Sendable, Equatable {
    public var directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    /// `$KATARIBE_QUANTIZED_CACHE`, else `$XDG_CACHE_HOME/kataribe/quantized`, else
    /// `~/.cache/kataribe/quantized`.
    public static var standard: QuantizedCache {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["KATARIBE_QUANTIZED_CACHE"], !explicit.isEmpty {
            return QuantizedCache(directory: URL(fileURLWithPath: explicit))
        }
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return QuantizedCache(directory: base.appendingPathComponent("kataribe/quantized"))
    }

    /// The file holding `format` weights of the model in `model`.
    public func url(forModel model: URL, format: WeightFormat) -> URL {
        let path = model.standardizedFileURL.resolvingSymlinksInPath().path
        let hash = String(Self.fnv1a(path), radix: 16)
        return directory.appendingPathComponent("\(model.standardizedFileURL.lastPathComponent)-\(hash).\(format).safetensors")
    }

    /// Identifies the checkpoint a quantized file was made from: config.json and every weight
    /// file by name, size and modification time, plus the quantizer's version.
    static func fingerprint(directory: URL, files: [URL]) -> String {
        let all = [directory.appendingPathComponent("config.json")] + files
        let parts = all.map { url -> String in
            var info = stat()
            guard stat(url.path, &info) == 0 else { return "\(url.lastPathComponent):missing" }
            return "\(url.lastPathComponent):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }
        return "quantizer \(QuantizedCheckpoint.formatVersion); " + parts.joined(separator: "; ")
    }

    func save(_ weights: SavedWeights, to url: URL, format: WeightFormat, fingerprint: String) throws(CheckpointError) {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw CheckpointError(file: url.path, .cannotWrite("cannot create the cache directory: \(error.localizedDescription)"))
        }
        try QuantizedCheckpoint.write(to: url, weightFormat: format, source: fingerprint,
                                      plain: weights.plain, matrices: weights.matrices)
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}

/// The tensors a saved quantized model holds: quantized matrices and everything else as stored.
struct SavedWeights {
    var plain: [(name: String, tensor: RawTensor)] = []
    var matrices: [(name: String, matrix: QuantizedMatrix)] = []
}

/// Element type of the KV cache.
public enum KVCacheFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = "f32"
    case float16 = "f16"

    public var description: String { rawValue }
}

/// Where a loaded model's weights came from.
public enum WeightSource: Sendable, Equatable, CustomStringConvertible {
    /// Used as stored in the checkpoint (memory-mapped) or converted at load.
    case checkpoint
    /// Quantized while loading, not saved.
    case quantizedAtLoad
    /// Quantized while loading and saved to this file for next time.
    case quantizedAndSaved(URL)
    /// Quantized while loading; saving failed for this reason.
    case quantizedSaveFailed(String)
    /// Mapped from a saved quantized model.
    case quantizedCache(URL)

    public var description: String {
        switch self {
        case .checkpoint: "checkpoint"
        case .quantizedAtLoad: "quantized at load"
        case .quantizedAndSaved(let url): "quantized at load, saved to \(url.path)"
        case .quantizedSaveFailed(let why): "quantized at load (saving failed: \(why))"
        case .quantizedCache(let url): "saved quantized model \(url.path)"
        }
    }
}
