/// Base models (open-calm, rinna's base model): the prompt is text the model continues. There are
/// no turns, so conversations cannot be written (`chat` and `/v1/chat/completions` refuse).
public struct PlainCompletionFormat: PromptFormatStyle {
    public init() {}

    public var name: String { "plain" }
    public var roles: Set<ChatRole> { [] }

    public func render(_ conversation: Conversation) -> String? { nil }
}
