/// One way of writing a model's input and reading its replies back.
///
/// Generation, the server, `chat` and `compare` only talk to `PromptFormat`, so a new format is a
/// new conforming type and nothing else changes: rinna's `ユーザー: …<NL>システム: ` is
/// `RinnaChatFormat`, plain completion is `PlainCompletionFormat`, and a format backed by a
/// tokenizer's Jinja chat template would be one more type, made by the model loader from
/// `tokenizer_config.json` and handed to the preset as `PromptFormat(thatType)`.
public protocol PromptFormatStyle: Hashable, Sendable {
    /// How suites (`prompt_format:`), the command line (`--format`), results and reports spell it.
    /// Results and cell keys store only this, so two different formats must not share a name.
    var name: String { get }

    /// The roles it writes turns for. Empty for a completion format: its input is text to continue,
    /// and it has no way to write a conversation.
    var roles: Set<ChatRole> { get }

    /// The model input for `conversation`, ending where the assistant's next reply starts; nil when
    /// the format cannot write conversations (exactly when `roles` is empty). Only ever sees
    /// turns whose role is in `roles`: `PromptFormat` applies `placingSystemTurns(in:)` first.
    func render(_ conversation: Conversation) -> String?

    /// The model input for one piece of text a person typed (`kataribe generate --prompt`, a suite's
    /// prompt). The default makes it the user's turn when there is a user role, and keeps it as the
    /// text to continue otherwise.
    func render(text: String) -> String

    /// What becomes of system turns before `render(_:)`. The default keeps them when `roles` has
    /// `.system`; otherwise it applies `Conversation.foldingSystemTurnsIntoUserTurns()`, so every
    /// format without a system role treats instructions the same way unless it says otherwise.
    func placingSystemTurns(in conversation: Conversation) -> Conversation

    /// Text its models write in replies that a reader should not see as is.
    var replyMarkers: ReplyMarkers { get }
}

extension PromptFormatStyle {
    public func render(text: String) -> String {
        guard roles.contains(.user) else { return text }
        return render(Conversation([ChatTurn(.user, text)])) ?? text
    }

    public func placingSystemTurns(in conversation: Conversation) -> Conversation {
        roles.contains(.system) ? conversation : conversation.foldingSystemTurnsIntoUserTurns()
    }

    public var replyMarkers: ReplyMarkers { .none }
}

/// How a model expects its input: a value wrapping one `PromptFormatStyle`, so that presets,
/// requests and results can hold any format while staying `Codable` and `Equatable`.
public struct PromptFormat: Sendable, Hashable, Codable, CustomStringConvertible {
    public let style: any PromptFormatStyle

    public init(_ style: some PromptFormatStyle) {
        self.style = style
    }

    /// The text is the prompt; the model continues it.
    public static let plain = PromptFormat(PlainCompletionFormat())
    /// rinna's instruction format (`ユーザー`/`システム` turns joined by `<NL>`); see `RinnaChatFormat`.
    public static let rinnaChat = PromptFormat(RinnaChatFormat())

    /// The formats a name alone selects, in the order help texts and error messages list them.
    public static let builtIn: [PromptFormat] = [.plain, .rinnaChat]

    /// The names `named(_:)` accepts.
    public static var names: [String] { builtIn.map(\.name) }

    /// The one place a spelling (`--format`, suite `prompt_format:`, stored results) becomes a format.
    public static func named(_ name: String) -> PromptFormat? {
        builtIn.first { $0.name == name }
    }

    public var name: String { style.name }
    public var description: String { name }
    public var roles: Set<ChatRole> { style.roles }
    /// Whether it writes conversations at all (what `chat` and `/v1/chat/completions` need, and
    /// what makes a suite send a prompt's `instruction` rather than its `completion`).
    public var hasTurns: Bool { !style.roles.isEmpty }
    /// Whether system turns reach the model as such; without one, `placingSystemTurns(in:)` decides.
    public var hasSystemRole: Bool { style.roles.contains(.system) }
    public var replyMarkers: ReplyMarkers { style.replyMarkers }

    /// The model input for `conversation`, system turns placed by the format's rule; nil when the
    /// format has no turns.
    public func prompt(for conversation: Conversation) -> String? {
        style.render(style.placingSystemTurns(in: conversation))
    }

    /// The model input for one text a person typed: the user's turn, or the text to continue.
    public func prompt(forText text: String) -> String {
        style.render(text: text)
    }

    /// A whole reply as a reader sees it (`replyMarkers` applied).
    public func displayText(fromReply reply: String) -> String {
        style.replyMarkers.displayText(fromReply: reply)
    }

    public static func == (lhs: PromptFormat, rhs: PromptFormat) -> Bool {
        AnyHashable(lhs.style) == AnyHashable(rhs.style)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(AnyHashable(style))
    }

    // Stored as its bare name, the same JSON the formats had as enum cases, so existing results,
    // plans and cell keys stay valid.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let format = PromptFormat.named(name) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "Cannot initialize PromptFormat from invalid String value \(name)")
        }
        self = format
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// Text that a format's models write in replies but that is not for the reader.
public struct ReplyMarkers: Sendable, Hashable {
    /// Stands for a line break (rinna writes `<NL>`, having been trained on text with newlines
    /// replaced by it).
    public var newline: String?
    /// Ends a reply when it comes last (rinna's `</s>`, its end-of-sequence token decoded as text,
    /// since its cards decode without skipping special tokens).
    public var endOfReply: String?

    public init(newline: String? = nil, endOfReply: String? = nil) {
        self.newline = newline
        self.endOfReply = endOfReply
    }

    public static let none = ReplyMarkers()

    public var isEmpty: Bool { newline == nil && endOfReply == nil }

    /// A trailing `endOfReply` removed, then each `newline` turned into "\n" (rinna's cards:
    /// `output.replace("<NL>", "\n")`).
    public func displayText(fromReply reply: String) -> String {
        var text = reply
        if let end = endOfReply, !end.isEmpty, text.hasSuffix(end) { text.removeLast(end.count) }
        guard let newline else { return text }
        return text.splitExactly(on: newline).joined(separator: "\n")
    }
}

/// A prompt that cannot be read as the expected format.
public enum PromptFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    case missingResponseCue(expectedSuffix: String)
    case unknownSpeaker(line: String)

    public var description: String {
        switch self {
        case let .missingResponseCue(suffix):
            return "a rinna chat prompt must end with \"\(suffix)\""
        case let .unknownSpeaker(line):
            return "a rinna chat turn must start with \"ユーザー: \" or \"システム: \", got \"\(line)\""
        }
    }
}
