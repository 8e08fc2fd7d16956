import Foundation
import KataribeSupport

/// An item's id as the task file gives it: JGLUE's `q_id` is a number, hand-written files tend to
/// use strings, and reports give it back in the same form.
public enum EvaluationItemID: Codable, Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case number(Int)

    public init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer()
        if let number = try? value.decode(Int.self) {
            self = .number(number)
        } else {
            self = .string(try value.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var value = encoder.singleValueContainer()
        switch self {
        case .string(let text): try value.encode(text)
        case .number(let number): try value.encode(number)
        }
    }

    public var description: String {
        switch self {
        case .string(let text): text
        case .number(let number): String(number)
        }
    }
}

/// One multiple-choice question: each choice is scored as the continuation `delimiter + choice` of
/// `context` (lm-eval's `(ctx, f"{target_delimiter}{cont}")`), and `label` is the right choice's index.
public struct MultipleChoiceItem: Sendable, Equatable {
    public var id: EvaluationItemID
    /// Given verbatim: any few-shot examples, instructions and the question are already in it.
    public var context: String
    public var choices: [String]
    public var label: Int
    /// lm-eval's `target_delimiter`: its TaskConfig default is " ", the Japanese leaderboard's
    /// JCommonsenseQA uses "\n", and Japanese prompts written without spaces want "".
    public var delimiter: String
    /// The line of the task file the item came from (1-based), for messages.
    public var line: Int

    public init(id: EvaluationItemID, context: String, choices: [String], label: Int, delimiter: String = "", line: Int = 0) {
        self.id = id
        self.context = context
        self.choices = choices
        self.label = label
        self.delimiter = delimiter
        self.line = line
    }

    /// lm-eval's requests for this item, in choice order.
    public var continuations: [String] { choices.map { delimiter + $0 } }
}

/// A task file: JSON lines `{"id", "context", "choices": [...], "label", "delimiter"?}`.
public struct MultipleChoiceTask: Sendable, Equatable {
    /// The file's name without its extension (what reports call the task).
    public var name: String
    public var items: [MultipleChoiceItem]

    public init(name: String, items: [MultipleChoiceItem]) {
        self.name = name
        self.items = items
    }

    /// Task files are text a person or a converter wrote; far larger ones are a mistake.
    public static let sizeLimit = 512 << 20

    /// Reads and checks a task file; `defaultDelimiter` is used by lines without `"delimiter"`.
    public static func load(file url: URL, defaultDelimiter: String = "") throws(EvaluationInputError) -> MultipleChoiceTask {
        let bytes: [UInt8]
        do { bytes = try UntrustedFile.read(url, limit: sizeLimit) } catch { throw .unreadable(error) }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8(file: url.path) }
        return try parse(text, file: url.path, name: url.deletingPathExtension().lastPathComponent, defaultDelimiter: defaultDelimiter)
    }

    /// `text` as a task file; `file` names it in errors.
    public static func parse(_ text: String, file: String, name: String,
                             defaultDelimiter: String = "") throws(EvaluationInputError) -> MultipleChoiceTask {
        var items: [MultipleChoiceItem] = []
        // "\n" only: a "\r\n" file leaves a "\r" that JSON treats as whitespace after the object.
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard line.contains(where: { !$0.isWhitespace }) else { continue }
            items.append(try item(line, file: file, line: index + 1, defaultDelimiter: defaultDelimiter))
        }
        guard !items.isEmpty else { throw .noItems(file: file) }
        return MultipleChoiceTask(name: name, items: items)
    }

    private struct Line: Decodable {
        var id: EvaluationItemID?
        var context: String?
        var choices: [String]?
        var label: Int?
        var delimiter: String?
    }

    private static func item(_ text: Substring, file: String, line: Int,
                             defaultDelimiter: String) throws(EvaluationInputError) -> MultipleChoiceItem {
        let decoded: Line
        do {
            decoded = try JSONDecoder().decode(Line.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw .badLine(file: file, line: line, reason: reason(error))
        } catch {
            throw .badLine(file: file, line: line, reason: "\(error)")
        }
        guard let context = decoded.context else { throw .missingField(file: file, line: line, field: "context") }
        guard let choices = decoded.choices else { throw .missingField(file: file, line: line, field: "choices") }
        guard let label = decoded.label else { throw .missingField(file: file, line: line, field: "label") }
        guard !choices.isEmpty else { throw .emptyChoices(file: file, line: line) }
        if let empty = choices.firstIndex(where: \.isEmpty) { throw .emptyChoice(file: file, line: line, index: empty) }
        guard choices.indices.contains(label) else {
            throw .labelOutOfRange(file: file, line: line, label: label, choices: choices.count)
        }
        return MultipleChoiceItem(id: decoded.id ?? .number(line), context: context, choices: choices, label: label,
                                  delimiter: decoded.delimiter ?? defaultDelimiter, line: line)
    }

    /// A one-line reason that names the field ("label: expected an integer") rather than Foundation's
    /// coding-path dump.
    private static func reason(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "the line" : keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case let .typeMismatch(type, context):
            let expected = switch type {
            case is Int.Type: "an integer"
            case is String.Type: "a string"
            case is [String].Type: "a list of strings"
            case is EvaluationItemID.Type: "a string or an integer"
            default: context.codingPath.isEmpty ? "a JSON object" : "another type"
            }
            return "\(path(context)): expected \(expected)"
        case let .valueNotFound(_, context):
            return "\(path(context)) is null"
        case let .keyNotFound(key, _):
            return "missing \"\(key.stringValue)\""
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty { return "not valid JSON (\(context.underlyingError.map { "\($0)" } ?? context.debugDescription))" }
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
