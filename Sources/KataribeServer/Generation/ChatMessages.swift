import KataribeGeneration

/// OpenAI chat messages → a `Conversation` with the same roles, in the same order. How the turns
/// reach the model is the prompt format's business (`TextGenerator` renders them): a format with a
/// system role gets system turns as such, one without applies its rule for them (rinna's folds them
/// into the user's turns), so the server never rewrites a message.
enum ChatMessages {
    static func conversation(from messages: [ChatMessage]) throws(APIError) -> Conversation {
        guard !messages.isEmpty else { throw .invalidRequest("'messages' must not be empty", param: "messages") }
        var turns: [ChatTurn] = []
        for (index, message) in messages.enumerated() {
            switch message.role {
            // OpenAI's newer name for system instructions; no format tells the two apart.
            case "system", "developer": turns.append(ChatTurn(.system, message.content))
            case "user": turns.append(ChatTurn(.user, message.content))
            case "assistant": turns.append(ChatTurn(.assistant, message.content))
            default:
                throw .invalidRequest("messages[\(index)].role '\(message.role)' is not supported "
                                      + "(use system, developer, user or assistant)", param: "messages[\(index)].role")
            }
        }
        let conversation = Conversation(turns)
        guard conversation.endsWithUserTurn else {
            throw .invalidRequest("the last message (other than system messages) must be a user message", param: "messages")
        }
        return conversation
    }
}
