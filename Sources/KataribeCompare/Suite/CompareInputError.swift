import KataribeApp
import KataribeGeneration

/// A suite file, picks file or command-line selection that cannot be used. The description names the
/// file, the line and column, the key path (e.g. `models[2].generation.top_p`) and the reason.
public struct CompareInputError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case unreadable(reason: String)
        /// Not YAML at all (libyaml's complaint).
        case syntax(problem: String)
        case duplicateKey(key: String)
        case unknownKey(key: String, suggestion: String?)
        case missingKey(key: String)
        case wrongType(expected: String)
        case invalidValue(value: String, reason: String)
        case duplicateID(kind: String, id: String, firstLine: Int?)
        case emptyPrompt(promptID: String, field: String)
        /// A model needs the prompt's `completion` or `instruction` text and the prompt has none.
        case missingPromptText(promptID: String, field: String, modelLabel: String)
        case unknownModel(name: String, suggestion: String?)
        /// `models` or `prompts` is empty.
        case emptyList(key: String)
        case invalidGeneration(modelLabel: String, reason: String)
        /// `--models`, `--prompts` or a picks file names something the suite does not have.
        case unknownName(kind: String, name: String, suggestion: String?)
    }

    public var kind: Kind
    public var file: String?
    public var line: Int?
    public var column: Int?
    public var keyPath: String?

    public init(_ kind: Kind, file: String? = nil, line: Int? = nil, column: Int? = nil, keyPath: String? = nil) {
        self.kind = kind
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
    }

    public var description: String {
        var location = file ?? ""
        if let line { location += (location.isEmpty ? "line " : ":") + "\(line)" }
        if let column, line != nil { location += ":\(column)" }
        var prefix = location.isEmpty ? "" : location + ": "
        if let keyPath, !keyPath.isEmpty { prefix += keyPath + ": " }
        return prefix + reason
    }

    public var reason: String {
        func didYouMean(_ suggestion: String?) -> String { suggestion.map { " (did you mean \"\($0)\"?)" } ?? "" }
        switch kind {
        case .unreadable(let reason): return "cannot read the file: \(reason)"
        case .syntax(let problem): return "not valid YAML: \(problem)"
        case .duplicateKey(let key): return "the key \"\(key)\" appears twice"
        case let .unknownKey(key, suggestion): return "unknown key \"\(key)\"\(didYouMean(suggestion))"
        case .missingKey(let key): return "missing required key \"\(key)\""
        case .wrongType(let expected): return "expected \(expected)"
        case let .invalidValue(value, reason): return "invalid value \(value): \(reason)"
        case let .duplicateID(kind, id, firstLine):
            return "duplicate \(kind) \"\(id)\"" + (firstLine.map { " (first used on line \($0))" } ?? "")
        case let .emptyPrompt(promptID, field): return "prompt \"\(promptID)\" has an empty \(field)"
        case let .missingPromptText(promptID, field, modelLabel):
            return "prompt \"\(promptID)\" has no \(field), which model \"\(modelLabel)\" needs (its prompt format "
                + (field == "instruction" ? "is a chat format" : "continues plain text") + ")"
        case let .unknownModel(name, suggestion):
            return "\"\(name)\" is not a known model preset\(didYouMean(suggestion)); name one with `preset:` "
                + "(known: \(ModelPresetCatalog.all.map(\.id).joined(separator: ", ")))"
        case .emptyList(let key): return "\"\(key)\" must list at least one entry"
        case let .invalidGeneration(modelLabel, reason): return "model \"\(modelLabel)\": \(reason)"
        case let .unknownName(kind, name, suggestion): return "no \(kind) \"\(name)\" in the suite\(didYouMean(suggestion))"
        }
    }
}
