import Foundation
import KataribeGeneration
import KataribeSupport
import Yams

/// A YAML node together with what an error about it must name: the file, the node's line and
/// column, and its key path from the document root.
struct YAMLValue {
    let node: Node
    let path: String
    let file: String?

    var line: Int? { node.mark?.line }
    var column: Int? { node.mark?.column }

    func error(_ kind: CompareInputError.Kind) -> CompareInputError {
        CompareInputError(kind, file: file, line: line, column: column, keyPath: path)
    }

    /// Parses a whole document; YAML syntax errors and duplicate keys become `CompareInputError`s.
    /// An empty document is an error unless `allowEmpty`, when it reads as an empty mapping.
    static func document(yaml: String, file: String?, allowEmpty: Bool = false) throws -> YAMLValue {
        do {
            do { try YAMLBudget.check(yaml) } catch {
                throw CompareInputError(.syntax(problem: error.problem), file: file, line: error.line, column: error.column)
            }
            guard let node = try Yams.compose(yaml: yaml) else {
                if allowEmpty { return YAMLValue(node: Node([(Node, Node)]()), path: "", file: file) }
                throw CompareInputError(.wrongType(expected: "a YAML mapping (the file is empty)"), file: file)
            }
            return YAMLValue(node: node, path: "", file: file)
        } catch let error as YamlError {
            throw Self.inputError(error, file: file)
        }
    }

    private static func inputError(_ error: YamlError, file: String?) -> CompareInputError {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let detail = context.map { "\($0.text) (line \($0.mark.line)): " } ?? ""
            // libyaml's context quotes the file: bounded and escaped like every quoted piece.
            return CompareInputError(.syntax(problem: UntrustedText.quoted(detail + problem, limit: 400)), file: file,
                                     line: mark.line, column: mark.column)
        case let .duplicatedKeysInMapping(duplicates, context):
            return CompareInputError(.duplicateKey(key: duplicates.joined(separator: ", ")), file: file,
                                     line: context.mark.line, column: context.mark.column)
        case let .reader(problem, _, _, _):
            return CompareInputError(.syntax(problem: problem), file: file)
        default:
            return CompareInputError(.syntax(problem: error.description), file: file)
        }
    }

    func child(_ node: Node, _ component: String) -> YAMLValue {
        YAMLValue(node: node, path: path.isEmpty ? component : "\(path).\(component)", file: file)
    }

    var isNull: Bool {
        if case .scalar(let scalar) = node { return scalar.style == .plain && node.null != nil }
        return false
    }

    // MARK: Containers

    /// The entries of a mapping; keys outside `allowed` are errors with a suggestion, keys in
    /// `rejected` are errors with the given reason.
    func mapping(allowed: [String], rejected: [String: String] = [:]) throws -> YAMLMapping {
        guard case .mapping(let mapping) = node else { throw error(.wrongType(expected: "a mapping of keys to values")) }
        var entries: [(String, YAMLValue)] = []
        for (keyNode, valueNode) in mapping {
            let key = keyNode.string ?? ""
            let keyValue = child(keyNode, key)
            if let reason = rejected[key] {
                throw keyValue.error(.invalidValue(value: "for \"\(key)\"", reason: reason))
            }
            guard allowed.contains(key) else {
                throw keyValue.error(.unknownKey(key: key, suggestion: DidYouMean.suggestion(for: key, among: allowed)))
            }
            entries.append((key, child(valueNode, key)))
        }
        return YAMLMapping(value: self, entries: entries)
    }

    func sequence() throws -> [YAMLValue] {
        guard case .sequence(let sequence) = node else { throw error(.wrongType(expected: "a list")) }
        return sequence.enumerated().map { index, element in
            YAMLValue(node: element, path: "\(path)[\(index)]", file: file)
        }
    }

    // MARK: Scalars

    /// The scalar's text; a null (`key:` with nothing after it) is an empty string.
    func string() throws -> String {
        guard case .scalar(let scalar) = node else { throw error(.wrongType(expected: "a string")) }
        return isNull ? "" : scalar.string
    }

    func nonEmptyString() throws -> String {
        let text = try string()
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw error(.invalidValue(value: "\"\(text)\"", reason: "must not be empty"))
        }
        return text
    }

    func bool() throws -> Bool {
        guard !isNull, let value = node.bool else { throw error(.wrongType(expected: "true or false")) }
        return value
    }

    func int(_ range: ClosedRange<Int>? = nil) throws -> Int {
        guard case .scalar(let scalar) = node, !isNull, let value = node.int else {
            throw error(.wrongType(expected: "an integer"))
        }
        if let range, !range.contains(value) {
            throw error(.invalidValue(value: scalar.string, reason: "must be between \(range.lowerBound) and \(range.upperBound)"))
        }
        return value
    }

    func uint64() throws -> UInt64 {
        guard case .scalar(let scalar) = node, !isNull else { throw error(.wrongType(expected: "a non-negative integer")) }
        let text = scalar.string.replacingOccurrences(of: "_", with: "")
        if let value = UInt64(text) { return value }
        if let value = node.int {
            throw error(.invalidValue(value: "\(value)", reason: "must be a non-negative integer"))
        }
        throw error(.wrongType(expected: "a non-negative integer"))
    }

    /// A finite number (integers accepted) that satisfies `check`, whose failure message is `requirement`.
    /// A number a generation setting's rule allows.
    func double(_ rule: GenerationParameterRules.Rule<Double>) throws -> Double {
        try double(rule.requirement, rule.allows)
    }

    func double(_ requirement: String? = nil, _ check: (Double) -> Bool = { _ in true }) throws -> Double {
        guard case .scalar(let scalar) = node, !isNull, let value = node.float else {
            throw error(.wrongType(expected: "a number"))
        }
        guard value.isFinite else { throw error(.invalidValue(value: scalar.string, reason: "must be a finite number")) }
        guard check(value) else { throw error(.invalidValue(value: scalar.string, reason: requirement ?? "out of range")) }
        return value
    }

    /// One of an enum's raw values.
    func oneOf<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws -> T where T.RawValue == String {
        try oneOf(T.allCases.map(\.rawValue)) { T(rawValue: $0) }
    }

    /// A scalar that is one of the names in `allowed`, turned into its value by `lookup`.
    func oneOf<T>(_ allowed: [String], _ lookup: (String) -> T?) throws -> T {
        let text = try string()
        guard let value = lookup(text) else {
            let hint = DidYouMean.suggestion(for: text, among: allowed).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw error(.invalidValue(value: "\"\(text)\"", reason: "expected one of \(allowed.joined(separator: ", "))\(hint)"))
        }
        return value
    }

    /// A scalar or a list of scalars (transformers accepts both for eos ids and stop strings).
    func list<T>(_ element: (YAMLValue) throws -> T) throws -> [T] {
        if case .sequence = node { return try sequence().map(element) }
        return [try element(self)]
    }
}

/// The checked entries of one mapping, in file order.
struct YAMLMapping {
    let value: YAMLValue
    let entries: [(key: String, value: YAMLValue)]

    subscript(key: String) -> YAMLValue? {
        entries.first { $0.key == key }?.value
    }

    func required(_ key: String) throws -> YAMLValue {
        guard let found = self[key] else { throw value.error(.missingKey(key: key)) }
        return found
    }
}
