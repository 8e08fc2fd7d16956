import KataribeSupport
import Foundation
import KataribeCheckpoint
import KataribeTensor

/// Why a model could not be loaded or run. File-related cases name the file.
public enum ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    case configUnreadable(file: String, reason: String)
    case missingConfigKey(file: String, key: String)
    case invalidConfigValue(file: String, key: String, reason: String)
    case unknownModelType(file: String, modelType: String)
    case unsupportedFeature(file: String, feature: String)
    case modelTooLarge(file: String, neededBytes: Int, availableBytes: Int)
    case missingTensor(file: String, name: String)
    case unusedTensors(file: String, names: [String])
    case shapeMismatch(file: String, name: String, expected: [Int], actual: [Int])
    case unsupportedTensorType(file: String, name: String, dtype: DType)
    case checkpoint(CheckpointError)
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    case contextOverflow(needed: Int, limit: Int)
    case emptyInput
    case invalidRewind(requested: Int, available: Int)
    case batchTooLarge(sequences: Int, capacity: Int)
    /// A batch was given a session of another model (or another architecture's session).
    case foreignSession
    case sessionTwiceInBatch

    /// Keys, names and values here can come from the checkpoint itself: bounded and escaped.
    private func q(_ text: String, _ limit: Int = UntrustedText.defaultLimit) -> String { UntrustedText.quoted(text, limit: limit) }

    public var description: String {
        switch self {
        case .configUnreadable(let file, let reason): "\(file): cannot read config: \(q(reason, 400))"
        case .missingConfigKey(let file, let key): "\(file): missing required key '\(q(key))'"
        case .invalidConfigValue(let file, let key, let reason): "\(file): invalid '\(q(key))': \(q(reason, 400))"
        case .unknownModelType(let file, let type):
            "\(file): unknown model_type '\(q(type))' (supported: \(ModelLoader.supportedModelTypes.joined(separator: ", ")))"
        case .unsupportedFeature(let file, let feature): "\(file): unsupported: \(q(feature, 400))"
        case .modelTooLarge(let file, let needed, let available):
            "\(file): the model needs at least \(formatBytes(needed)) but this machine has \(formatBytes(available))"
        case .missingTensor(let file, let name): "\(file): missing tensor '\(q(name))'"
        case .unusedTensors(let file, let names):
            "\(file): \(names.count) unexpected tensor(s): \(names.prefix(8).map { q($0) }.joined(separator: ", "))\(names.count > 8 ? ", ..." : "")"
        case .shapeMismatch(let file, let name, let expected, let actual):
            "\(file): tensor '\(q(name))' has shape \(actual), expected \(expected)"
        case .unsupportedTensorType(let file, let name, let dtype):
            "\(file): tensor '\(q(name))' is stored as \(dtype); weights must be float32, float16 or bfloat16"
        case .checkpoint(let error): error.description
        case .tokenOutOfRange(let token, let vocabularySize):
            "token id \(token) is outside the vocabulary (0..<\(vocabularySize))"
        case .contextOverflow(let needed, let limit): "\(needed) tokens exceed the model's context length of \(limit)"
        case .emptyInput: "no tokens were given"
        case .invalidRewind(let requested, let available):
            "cannot rewind to \(requested) tokens; the session holds \(available)"
        case .batchTooLarge(let sequences, let capacity): "\(sequences) sequences in one step exceed the batch's capacity of \(capacity)"
        case .foreignSession: "a batch can only advance sessions of its own model"
        case .sessionTwiceInBatch: "a session appears twice in one batched step"
        }
    }
}

func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : "\(String(format: "%.1f", value)) \(units[unit])"
}
