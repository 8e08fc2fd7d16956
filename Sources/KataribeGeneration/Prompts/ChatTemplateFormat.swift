import Foundation
import KataribeTemplates

/// A model's own chat template (the Jinja `chat_template` of its `tokenizer_config.json`) as a prompt
/// format: a conversation is rendered exactly as transformers'
/// `apply_chat_template(messages, tokenize=False, add_generation_prompt=True)` renders it, and the
/// text is tokenized without adding special tokens again (the template writes `bos_token` itself).
///
/// Its roles are found by trying the template once it is read: a template that raises for a system
/// message (Gemma 1/2: "System role not supported"; Mistral v0.2: roles must alternate) or renders
/// the same text with it as without it (Mistral v0.3 ignores system messages) has no system role, so
/// system turns go in front of the user's turn by `Conversation.foldingSystemTurnsIntoUserTurns()`
/// and the model still reads the instruction; every other template gets system turns as they are
/// and places them itself (Llama 3, Qwen, Gemma 3 folds them into the first user turn, llm-jp writes
/// its fixed preamble).
public struct ChatTemplateFormat: PromptFormatStyle {
    public let template: ChatTemplate
    public let roles: Set<ChatRole>
    /// The file the template came from, for messages (`tokenizer_config.json`, `chat_template.jinja`).
    public let origin: String
    /// What `strftime_now` reads; nil is the current time (transformers: `datetime.now()`).
    public let fixedNow: Date?

    /// Tries the template on a user turn (it must render one) and on a system turn (see the type).
    public init(template: ChatTemplate, origin: String, fixedNow: Date? = nil) throws(PromptFormatError) {
        self.template = template
        self.origin = origin
        self.fixedNow = fixedNow
        let probe = "kataribe-probe"
        let user = ChatTemplate.Message(role: "user", content: probe + "-user")
        // One instant for both probes, so a date the template prints cannot differ between them.
        let probeTime = fixedNow ?? Date()
        let now: @Sendable () -> Date = { probeTime }
        let userOnly: String
        do {
            userOnly = try template.render([user], addGenerationPrompt: true, now: now)
        } catch {
            throw .chatTemplate(message: "\(origin): the chat template cannot render a user message: \(error.description)")
        }
        let withSystem = try? template.render([ChatTemplate.Message(role: "system", content: probe + "-system"), user],
                                              addGenerationPrompt: true, now: now)
        let systemMatters = withSystem.map { !$0.unicodeScalars.elementsEqual(userOnly.unicodeScalars) } ?? false
        roles = systemMatters ? [.system, .user, .assistant] : [.user, .assistant]
    }

    /// Stored and selected as `template` (`ModelChatTemplateFormat`): which template is meant follows
    /// from the model it belongs to.
    public var name: String { ModelChatTemplateFormat.formatName }

    public var rendersSpecialTokens: Bool { true }

    /// A reply decoded without skipping special tokens ends with the end-of-turn token as text.
    public var replyMarkers: ReplyMarkers {
        ReplyMarkers(endOfReply: template.specialTokens["eos_token"])
    }

    public func render(_ conversation: Conversation) -> String? {
        try? checkedRender(conversation)
    }

    public func render(text: String) -> String {
        (try? checkedRender(text: text)) ?? text
    }

    public func checkedRender(text: String) throws(PromptFormatError) -> String {
        // Never nil: a chat template always writes a conversation.
        try checkedRender(Conversation([ChatTurn(.user, text)])) ?? text
    }

    public func checkedRender(_ conversation: Conversation) throws(PromptFormatError) -> String? {
        let messages = conversation.turns.map { ChatTemplate.Message(role: $0.role.rawValue, content: $0.text) }
        let fixedNow = fixedNow
        do {
            return try template.render(messages, addGenerationPrompt: true, now: { fixedNow ?? Date() })
        } catch {
            throw .chatTemplate(message: "\(origin): \(error.description)")
        }
    }
}

/// `template`: "the model's own chat template", before the model's folder is read. Presets of models
/// that ship a template, `--format template` and suite `prompt_format: template` name it; the model
/// loader replaces it with the `ChatTemplateFormat` read from the folder. Until then it counts as a
/// chat format with every role (so suites send such models the prompt's `instruction`), and the text
/// it stands for is the user's text as typed, which is what a suite plan records for such models.
public struct ModelChatTemplateFormat: PromptFormatStyle {
    public static let formatName = "template"

    public init() {}

    public var name: String { Self.formatName }
    public var roles: Set<ChatRole> { [.system, .user, .assistant] }
    public var rendersSpecialTokens: Bool { true }

    public func render(_ conversation: Conversation) -> String? { nil }

    public func render(text: String) -> String { text }
}
