import KataribeSupport
/// Why a tokenizer could not be loaded or used. Every case names the file (when there is one) and
/// the reason, so a corrupt download or an unsupported component is reported, never crashed on.
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The path does not exist or could not be read.
    case unreadableFile(path: String, reason: String)
    /// The file is not well-formed JSON (`offset` is a byte offset into the file).
    case invalidJSON(path: String, offset: Int, reason: String)
    /// The file is not a well-formed protobuf message (`offset` is a byte offset into the file).
    case invalidProtobuf(path: String, offset: Int, reason: String)
    /// The file parsed but its content is inconsistent (missing field, bad id, duplicate piece...).
    case invalidModel(path: String, reason: String)
    /// A pipeline component (normalizer, pre-tokenizer, model, ...) that Kataribe does not implement.
    case unsupportedComponent(path: String, component: String, type: String)
    /// A regular expression that could not be parsed or uses a construct Kataribe does not implement.
    case invalidRegex(pattern: String, reason: String)
    /// A folder without the files the requested tokenizer kind needs.
    case noTokenizerFiles(directory: String, reason: String)
    /// Input text that cannot be tokenized (for example invalid UTF-8 read from a file or stdin).
    case invalidInput(reason: String)

    /// Reasons quote tokens, patterns and type names from the file itself: bounded and escaped so a
    /// hostile tokenizer cannot flood or repaint the terminal.
    private func r(_ text: String) -> String { UntrustedText.quoted(text, limit: 400) }

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "cannot read \(path): \(r(reason))"
        case let .invalidJSON(path, offset, reason):
            return "\(path): invalid JSON at byte \(offset): \(r(reason))"
        case let .invalidProtobuf(path, offset, reason):
            return "\(path): invalid protobuf at byte \(offset): \(r(reason))"
        case let .invalidModel(path, reason):
            return "\(path): \(r(reason))"
        case let .unsupportedComponent(path, component, type):
            return "\(path): unsupported \(component) type \"\(UntrustedText.quoted(type))\""
        case let .invalidRegex(pattern, reason):
            return "cannot use regular expression \(UntrustedText.quoted(pattern.debugDescription)): \(r(reason))"
        case let .noTokenizerFiles(directory, reason):
            return "\(directory): \(reason)"
        case let .invalidInput(reason):
            return "invalid input: \(r(reason))"
        }
    }
}
