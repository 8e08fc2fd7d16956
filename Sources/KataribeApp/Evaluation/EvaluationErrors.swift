import KataribeModels
import KataribeSupport

/// Why a task or text file for `kataribe eval` cannot be used. Every case names the file, and the
/// line for problems of one item, so a person can go straight to it.
public enum EvaluationInputError: Error, CustomStringConvertible, Equatable, Sendable {
    case unreadable(UntrustedFileError)
    case notUTF8(file: String)
    /// A line that is not a JSON object, or whose fields have the wrong types.
    case badLine(file: String, line: Int, reason: String)
    case missingField(file: String, line: Int, field: String)
    case emptyChoices(file: String, line: Int)
    /// acc_norm divides by the choice's length, so an empty choice has no score.
    case emptyChoice(file: String, line: Int, index: Int)
    case labelOutOfRange(file: String, line: Int, label: Int, choices: Int)
    case noItems(file: String)
    case emptyText(file: String)

    public var description: String {
        switch self {
        case .unreadable(let error): error.description
        case .notUTF8(let file): "\(file): not UTF-8 text"
        case let .badLine(file, line, reason): "\(file):\(line): \(UntrustedText.quoted(reason, limit: 300))"
        case let .missingField(file, line, field): "\(file):\(line): missing \"\(field)\""
        case let .emptyChoices(file, line): "\(file):\(line): \"choices\" is empty (give at least one choice)"
        case let .emptyChoice(file, line, index): "\(file):\(line): choice \(index) is an empty string"
        case let .labelOutOfRange(file, line, label, choices):
            "\(file):\(line): label \(label) is out of range (there are \(choices) choices, so 0...\(choices - 1))"
        case .noItems(let file): "\(file): no items (expected one JSON object per line)"
        case .emptyText(let file): "\(file): the file is empty; there is nothing to score"
        }
    }
}

/// Why scoring could not finish. Items are named by their id and, for choices, the choice's index.
public enum EvaluationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A continuation that tokenizes to nothing: lm-eval asserts on it rather than score it.
    case emptyContinuation(item: String, choice: Int)
    /// A context that encodes to no tokens, such as one made only of whitespace, all of which moves
    /// to the continuation (lm-eval's `_encode_pair`): nothing is left to condition on.
    case emptyContext(item: String)
    /// lm-eval keeps the continuation whole and truncates only the context.
    case continuationTooLong(item: String, choice: Int, tokens: Int, maxLength: Int)
    /// Empty contexts and rolling windows start from the tokenizer's BOS (else EOS) token.
    case noPrefixToken
    case invalidMaxLength(requested: Int, contextLength: Int)
    /// A text that tokenizes to nothing has no perplexity.
    case noTokens(file: String)
    case windowRefused(window: Int, reason: String)
    case model(ModelError)

    public var description: String {
        switch self {
        case let .emptyContinuation(item, choice):
            "item \(UntrustedText.quoted(item)): choice \(choice) tokenizes to no tokens after its context"
        case .emptyContext(let item):
            "item \(UntrustedText.quoted(item)): the context encodes to no tokens (lm-eval moves a whitespace-only context "
                + "to the continuation); give an empty context instead, which is scored after the BOS/EOS token"
        case let .continuationTooLong(item, choice, tokens, maxLength):
            "item \(UntrustedText.quoted(item)): choice \(choice) has \(tokens) tokens, more than the \(maxLength) the model is given at once"
        case .noPrefixToken:
            "the tokenizer has neither a BOS nor an EOS token to start an empty context or a perplexity window with"
        case let .invalidMaxLength(requested, contextLength):
            "a max length of \(requested) tokens is not between 1 and the model's context length \(contextLength)"
        case .noTokens(let file): "\(file): the text tokenizes to no tokens"
        case let .windowRefused(window, reason): "perplexity window \(window) could not be scored: \(reason)"
        case .model(let error): error.description
        }
    }
}
