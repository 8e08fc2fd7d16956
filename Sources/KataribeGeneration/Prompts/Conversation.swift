/// A multi-turn chat history as a value.
public struct Conversation: Codable, Sendable, Equatable {
    public var turns: [ChatTurn]

    public init(_ turns: [ChatTurn] = []) { self.turns = turns }

    public func appending(_ speaker: ChatTurn.Speaker, _ text: String) -> Conversation {
        Conversation(turns + [ChatTurn(speaker, text)])
    }

    /// Drops the oldest user/assistant exchange (the first turn, and the reply after it), for
    /// callers that must shorten the history to fit the context window.
    public func droppingOldestExchange() -> Conversation {
        guard !turns.isEmpty else { return self }
        let drop = turns.count >= 2 && turns[0].speaker == .user && turns[1].speaker == .assistant ? 2 : 1
        return Conversation(Array(turns.dropFirst(drop)))
    }
}

/// One utterance.
public struct ChatTurn: Codable, Sendable, Equatable {
    /// rinna's two roles. `assistant` is rinna's `システム` (the model's replies, not a system prompt).
    public enum Speaker: String, Codable, Sendable, CaseIterable {
        case user
        case assistant

        /// The speaker label in rinna's format.
        public var rinnaLabel: String {
            switch self {
            case .user: return "ユーザー"
            case .assistant: return "システム"
            }
        }
    }

    public var speaker: Speaker
    public var text: String

    public init(_ speaker: Speaker, _ text: String) {
        self.speaker = speaker
        self.text = text
    }
}
