/// rinna/japanese-gpt-neox-3.6b-instruction-{sft,sft-v2,ppo} prompt format, per their model cards:
/// each utterance is `"{speaker}: {text}"` with every newline in the text replaced by `<NL>`, the
/// utterances are joined by `<NL>`, and the prompt ends with `<NL>システム: ` to cue the reply:
///
///     "<NL>".join(f"{speaker}: {text}" for each turn) + "<NL>" + "システム: "
///
/// Newlines are single U+000A scalars, as in Python's `str.replace("\n", "<NL>")` (so "\r\n"
/// becomes "\r<NL>").
///
/// The cards have two speakers, `ユーザー` (user) and `システム` (the assistant: the model's replies,
/// not a system prompt), so there is no system role: system messages are folded into the user's
/// turns (`Conversation.foldingSystemTurnsIntoUserTurns()`).
public struct RinnaChatFormat: PromptFormatStyle {
    public static let newline = "<NL>"
    public static let responseCue = "<NL>システム: "
    public static let endOfText = "</s>"

    public init() {}

    public var name: String { "rinna-chat" }
    public var roles: Set<ChatRole> { [.user, .assistant] }
    public var replyMarkers: ReplyMarkers { ReplyMarkers(newline: Self.newline, endOfReply: Self.endOfText) }

    public func render(_ conversation: Conversation) -> String? {
        Self.turnsText(conversation) + Self.responseCue
    }

    /// The model input for `conversation` (system turns folded in), ending with the cue for the next reply.
    public static func prompt(for conversation: Conversation) -> String {
        turnsText(RinnaChatFormat().placingSystemTurns(in: conversation)) + responseCue
    }

    /// The utterances alone, joined by `<NL>` (no reply cue).
    public static func turnsText(_ conversation: Conversation) -> String {
        conversation.turns
            .map { "\(label($0.role)): \(replacingNewlines(in: $0.text, with: newline))" }
            .joined(separator: newline)
    }

    /// Reads a prompt made by `prompt(for:)` back into turns. A `<NL>` followed by a speaker label
    /// starts a new turn; any other `<NL>` was a newline inside the utterance. (So an utterance line
    /// that itself begins with "ユーザー: " or "システム: ", or a literal "<NL>" in the text, does
    /// not survive the round trip.)
    public static func parse(_ prompt: String) throws(PromptFormatError) -> Conversation {
        guard prompt.hasSuffix(responseCue) else { throw .missingResponseCue(expectedSuffix: responseCue) }
        let body = String(prompt.dropLast(responseCue.count))
        if body.isEmpty { return Conversation() }
        var turns: [ChatTurn] = []
        for segment in body.splitExactly(on: newline) {
            if let (speaker, text) = splitSpeaker(segment) {
                turns.append(ChatTurn(speaker, text))
            } else if !turns.isEmpty {
                turns[turns.count - 1].text += "\n" + segment
            } else {
                throw .unknownSpeaker(line: segment)
            }
        }
        return Conversation(turns)
    }

    /// The model's raw reply as shown to a user: a trailing `</s>` removed, `<NL>` turned into
    /// newlines (the cards' `output.replace("<NL>", "\n")`).
    public static func displayText(fromReply reply: String) -> String {
        RinnaChatFormat().replyMarkers.displayText(fromReply: reply)
    }

    /// The speaker label of `role`. System turns are folded into user turns before rendering; one
    /// that got here anyway reads as the user's words, which is what folding makes of it too.
    static func label(_ role: ChatRole) -> String {
        role == .assistant ? "システム" : "ユーザー"
    }

    private static func splitSpeaker(_ segment: String) -> (ChatRole, String)? {
        for role in [ChatRole.user, .assistant] {
            let label = label(role) + ": "
            if segment.hasPrefix(label) { return (role, String(segment.dropFirst(label.count))) }
        }
        return nil
    }

    private static func replacingNewlines(in text: String, with replacement: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\n" { out.append(contentsOf: replacement.unicodeScalars) } else { out.append(scalar) }
        }
        return String(out)
    }
}

extension String {
    /// Splits on an exact substring, scalar by scalar (no Foundation needed).
    func splitExactly(on separator: String) -> [String] {
        let text = Array(unicodeScalars), sep = Array(separator.unicodeScalars)
        guard !sep.isEmpty else { return [self] }
        var parts: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        while i < text.count {
            if i + sep.count <= text.count, text[i..<(i + sep.count)].elementsEqual(sep) {
                parts.append(String(current))
                current = String.UnicodeScalarView()
                i += sep.count
            } else {
                current.append(text[i])
                i += 1
            }
        }
        parts.append(String(current))
        return parts
    }
}
