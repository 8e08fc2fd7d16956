import Foundation
import KataribeTensor

/// Every tensor of a checkpoint by name, with the file each came from (for error messages) and
/// the files that were read. The tensors point into memory-mapped files kept alive by them.
public struct TensorCollection: Sendable {
    public private(set) var tensors: [String: RawTensor] = [:]
    public private(set) var sources: [String: String] = [:]
    public private(set) var files: [URL] = []
    /// The container format (`safetensors` or `pytorch`), sharded or not.
    public var format: String = ""

    public init() {}

    public var names: [String] { tensors.keys.sorted() }

    public subscript(name: String) -> RawTensor? { tensors[name] }

    /// Adds one tensor; a name seen before is an error (shards must not repeat tensors).
    public mutating func insert(_ tensor: RawTensor, named name: String, from file: String) throws(CheckpointError) {
        if tensors[name] != nil { throw CheckpointError(file: file, .duplicateTensor(name)) }
        tensors[name] = tensor
        sources[name] = file
    }

    public mutating func merge(_ other: TensorCollection) throws(CheckpointError) {
        for name in other.names {
            // Non-optional by construction: names come from the same dictionary.
            guard let tensor = other.tensors[name] else { continue }
            try insert(tensor, named: name, from: other.sources[name] ?? "")
        }
        files.append(contentsOf: other.files)
    }

    public mutating func addFile(_ url: URL) { files.append(url) }
}
