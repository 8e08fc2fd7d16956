import KataribeSupport

/// Why a checkpoint file could not be read. Always names the file, so a user with a directory of
/// shards knows which one is broken.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    public let reason: Reason

    public init(file: String, _ reason: Reason) {
        self.file = file
        self.reason = reason
    }

    public enum Reason: Equatable, Sendable {
        case cannotOpen(String)
        case noCheckpointFiles
        // safetensors
        case truncated(String)
        case invalidHeader(String)
        case offsetOutOfBounds(tensor: String, end: Int, available: Int)
        case overlappingTensors(String, String)
        case sizeMismatch(tensor: String, expected: Int, actual: Int)
        case unknownDType(tensor: String, dtype: String)
        // torch zip / pickle
        case notAZipArchive(String)
        case legacyTorchFormat
        case compressedEntry(String)
        case missingEntry(String)
        case forbiddenGlobal(String)
        case unsupportedOpcode(UInt8, offset: Int)
        case malformedPickle(String)
        case unsupportedTensor(tensor: String, reason: String)
        // shards
        case invalidIndex(String)
        case duplicateTensor(String)
        case tensorMissingFromShard(tensor: String, shard: String)
        // saved quantized models
        case notAQuantizedModel(String)
        case unsupportedQuantizedVersion(String)
        case invalidQuantizedModel(String)
        case cannotWrite(String)
        // GGUF (llama.cpp's format); truncation, duplicate tensors, overlaps and tensors past the
        // end use the cases above
        case notGGUF(magic: [UInt8])
        case unsupportedGGUFVersion(UInt32)
        case invalidGGUF(String)
        case invalidGGUFKey(String, reason: String)
        case duplicateGGUFKey(String)
        case invalidGGUFValue(key: String, reason: String)
        case invalidGGUFTensor(tensor: String, reason: String)
        case misplacedGGUFTensor(tensor: String, offset: Int, expected: Int)
    }

    public var description: String { "\(file): \(reasonDescription)" }

    /// Names and reasons can come from the file itself (tensor names, dtype strings, pickle
    /// globals), so each is bounded and escaped before it reaches a terminal.
    private func q(_ text: String) -> String { UntrustedText.quoted(text) }
    private func r(_ text: String) -> String { UntrustedText.quoted(text, limit: 400) }

    static func ggufVersionProblem(_ version: UInt32) -> String {
        switch version {
        case 1:
            "GGUF version 1 is not supported (it used 32-bit counts and lengths); convert the model again with a current llama.cpp"
        case _ where version & 0xFFFF == 0 && version != 0:
            // A version written big-endian reads as 0x0N000000 on this little-endian machine.
            "GGUF version \(version) looks like a big-endian file (version \(version.byteSwapped)); only little-endian GGUF files are supported"
        default:
            "GGUF version \(version) is not supported (this build reads versions 2 and 3)"
        }
    }

    public var reasonDescription: String {
        switch reason {
        case .cannotOpen(let why): "cannot open: \(r(why))"
        case .noCheckpointFiles:
            "no checkpoint found (expected model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json)"
        case .truncated(let what): "file is truncated: \(r(what))"
        case .invalidHeader(let why): "invalid safetensors header: \(r(why))"
        case .offsetOutOfBounds(let tensor, let end, let available):
            "tensor '\(q(tensor))' ends at byte \(end) but the data section has only \(available) bytes"
        case .overlappingTensors(let a, let b): "tensors '\(q(a))' and '\(q(b))' overlap"
        case .sizeMismatch(let tensor, let expected, let actual):
            "tensor '\(q(tensor))' has \(actual) bytes but its dtype and shape need \(expected)"
        case .unknownDType(let tensor, let dtype): "tensor '\(q(tensor))' has unsupported dtype '\(q(dtype))'"
        case .notAZipArchive(let why): "not a torch zip checkpoint: \(r(why))"
        case .legacyTorchFormat:
            "unsupported legacy format: this torch file predates the zip container (torch < 1.6); re-save it with a newer torch"
        case .compressedEntry(let name): "zip entry '\(q(name))' is compressed; torch checkpoints store tensors uncompressed"
        case .missingEntry(let name): "zip entry '\(q(name))' is missing"
        case .forbiddenGlobal(let name): "pickle refers to forbidden global '\(q(name))' (only torch tensor rebuilding is allowed)"
        case .unsupportedOpcode(let op, let offset):
            "pickle opcode 0x\(String(op, radix: 16)) at byte \(offset) is not supported"
        case .malformedPickle(let why): "malformed pickle: \(r(why))"
        case .unsupportedTensor(let tensor, let why): "tensor '\(q(tensor))': \(r(why))"
        case .invalidIndex(let why): "invalid shard index: \(r(why))"
        case .duplicateTensor(let name): "tensor '\(q(name))' appears more than once"
        case .tensorMissingFromShard(let tensor, let shard): "index maps '\(q(tensor))' to '\(q(shard))' but that shard lacks it"
        case .notAQuantizedModel(let why): "not a Kataribe quantized model: \(r(why))"
        case .unsupportedQuantizedVersion(let version):
            "quantized model format version \(q(version)) is not supported (this build reads version \(QuantizedCheckpoint.formatVersion)); delete the file to rebuild it"
        case .invalidQuantizedModel(let why): "invalid quantized model: \(r(why))"
        case .cannotWrite(let why): "cannot write: \(why)"
        case .notGGUF(let magic):
            "not a GGUF file: it starts with bytes \(magic.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")) instead of 'GGUF' (47 47 55 46)"
        case .unsupportedGGUFVersion(let version): Self.ggufVersionProblem(version)
        case .invalidGGUF(let why): "invalid GGUF file: \(r(why))"
        case .invalidGGUFKey(let key, let why): "invalid GGUF metadata key '\(q(key))': \(r(why))"
        case .duplicateGGUFKey(let key): "GGUF metadata key '\(q(key))' appears more than once"
        case .invalidGGUFValue(let key, let why): "invalid value of GGUF metadata key '\(q(key))': \(r(why))"
        case .invalidGGUFTensor(let tensor, let why): "invalid GGUF tensor '\(q(tensor))': \(r(why))"
        case .misplacedGGUFTensor(let tensor, let offset, let expected):
            // llama.cpp lays tensors out back to back in header order, each padded to the
            // alignment, and refuses any other layout; so does this reader.
            "GGUF tensor '\(q(tensor))' starts at data offset \(offset) but the tensors before it end at \(expected)"
                + (offset < expected ? " (they overlap)" : " (a gap of \(offset - expected) bytes)")
        }
    }
}
