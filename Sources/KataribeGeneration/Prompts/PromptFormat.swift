/// One way of writing a model's input and reading its replies back.
///
/// Generation, the server, `chat` and `compare` only talk to `PromptFormat`, so a new format is a
/// new conforming type and nothing else changes: rinna's `ユーザー: …<NL>システム: ` is
/// `RinnaChatFormat`, plain completion is `PlainCompletionFormat`, and a tokenizer's Jinja chat
/// template is `ChatTemplateFormat`, made by the model loader from `tokenizer_config.json` where a
/// preset or flag says `template` (`ModelChatTemplateFormat`).
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

    /// `render(_:)`, saying why when a format with turns cannot write this conversation (a chat
    /// template that raises for it). Formats that cannot fail need not implement it.
    func checkedRender(_ conversation: Conversation) throws(PromptFormatError) -> String?

    /// `render(text:)`, saying why it failed; see `checkedRender(_:)`.
    func checkedRender(text: String) throws(PromptFormatError) -> String

    /// Whether the text it renders already holds the special tokens (a chat template writes
    /// `bos_token` itself), so that it is tokenized without adding them again, as transformers
    /// tokenizes chat templates (`add_special_tokens=False`).
    var rendersSpecialTokens: Bool { get }
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

    public func checkedRender(_ conversation: Conversation) throws(PromptFormatError) -> String? { render(conversation) }

    public func checkedRender(text: String) throws(PromptFormatError) -> String { render(text: text) }

    public var rendersSpecialTokens: Bool { false }
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

    /// The model's own chat template (`tokenizer_config.json`), read when the model loads; see
    /// `ModelChatTemplateFormat`.
    public static let modelTemplate = PromptFormat(ModelChatTemplateFormat())

    /// The formats a name alone selects, in the order help texts and error messages list them.
    public static let builtIn: [PromptFormat] = [.plain, .rinnaChat, .modelTemplate]

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
    /// Whether its text is tokenized without adding special tokens (see `PromptFormatStyle.rendersSpecialTokens`).
    public var rendersSpecialTokens: Bool { style.rendersSpecialTokens }
    /// Whether this is `template` before the model's folder was read (it renders nothing yet).
    public var isUnresolvedModelTemplate: Bool { style is ModelChatTemplateFormat }

    /// The model input for `conversation`, system turns placed by the format's rule; nil when the
    /// format has no turns (or, for a chat template, when the template refuses the conversation:
    /// `checkedPrompt(for:)` says why).
    public func prompt(for conversation: Conversation) -> String? {
        style.render(style.placingSystemTurns(in: conversation))
    }

    /// The model input for one text a person typed: the user's turn, or the text to continue.
    public func prompt(forText text: String) -> String {
        style.render(text: text)
    }

    /// `prompt(for:)`, with the reason when a format that has turns cannot write the conversation.
    public func checkedPrompt(for conversation: Conversation) throws(PromptFormatError) -> String? {
        try style.checkedRender(style.placingSystemTurns(in: conversation))
    }

    /// `prompt(forText:)`, with the reason when the format cannot write it.
    public func checkedPrompt(forText text: String) throws(PromptFormatError) -> String {
        try style.checkedRender(text: text)
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
    /// The model's chat template raised for the conversation (`raise_exception`) or failed rendering it.
    case chatTemplate(message: String)
    /// `template` was asked for, but the model's folder has no chat template.
    case noChatTemplate(model: String)

    public var description: String {
        switch self {
        case let .chatTemplate(message):
            return message
        case let .noChatTemplate(model):
            return "\(model) has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja); "
                + "choose another prompt format (--format plain or rinna-chat)"
        case let .missingResponseCue(suffix):
            return "a rinna chat prompt must end with \"\(suffix)\""
        case let .unknownSpeaker(line):
            return "a rinna chat turn must start with \"ユーザー: \" or \"システム: \", got \"\(line)\""
        }
    }
}
