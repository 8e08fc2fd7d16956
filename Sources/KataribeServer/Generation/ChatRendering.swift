import KataribeGeneration

/// OpenAI chat messages → a `Conversation`, which `TextGenerator` renders in the model's prompt format
/// (rinna's `ユーザー: …<NL>システム: ` for rinna chat models).
///
/// rinna's format has no system role, so the text of `system` (and `developer`) messages is put in
/// front of the next user message, separated by a newline; one after the last user message goes in
/// front of that one. Instructions thus reach the model in the only place it reads them.
enum ChatRendering {
    static func conversation(from messages: [ChatMessage]) throws(APIError) -> Conversation {
        guard !messages.isEmpty else { throw .invalidRequest("'messages' must not be empty", param: "messages") }
        var turns: [ChatTurn] = []
        var instructions: [String] = []
        var lastUser: Int?
        for (index, message) in messages.enumerated() {
            switch message.role {
            case "system", "developer":
                if !message.content.isEmpty { instructions.append(message.content) }
            case "user":
                turns.append(ChatTurn(.user, (instructions + [message.content]).joined(separator: "\n")))
                instructions = []
                lastUser = turns.count - 1
            case "assistant":
                turns.append(ChatTurn(.assistant, message.content))
            default:
                throw .invalidRequest("messages[\(index)].role '\(message.role)' is not supported "
                                      + "(use system, developer, user or assistant)", param: "messages[\(index)].role")
            }
        }
        if !instructions.isEmpty, let lastUser {
            turns[lastUser].text = (instructions + [turns[lastUser].text]).joined(separator: "\n")
        }
        guard turns.last?.speaker == .user else {
            throw .invalidRequest("the last message (other than system messages) must be a user message", param: "messages")
        }
        return Conversation(turns)
    }
}
