/// Who says a turn. These are the chat API's roles, not any one model's labels: each `PromptFormat`
/// writes them its own way (rinna calls the assistant `システム`).
public enum ChatRole: String, Codable, Sendable, CaseIterable {
    /// Instructions about the whole conversation, not something to answer.
    case system
    case user
    /// The model's replies.
    case assistant
}

/// A multi-turn chat history as a value.
public struct Conversation: Codable, Sendable, Equatable {
    public var turns: [ChatTurn]

    public init(_ turns: [ChatTurn] = []) { self.turns = turns }

    public func appending(_ role: ChatRole, _ text: String) -> Conversation {
        Conversation(turns + [ChatTurn(role, text)])
    }

    /// Whether there is something to reply to: the last turn other than system turns is the user's.
    /// System turns are skipped because a trailing instruction still asks for the reply to the user.
    public var endsWithUserTurn: Bool {
        turns.last { $0.role != .system }?.role == .user
    }

    /// Drops the oldest user/assistant exchange (the first turn, and the reply after it), for
    /// callers that must shorten the history to fit the context window. Leading system turns stay:
    /// they are instructions for the whole conversation (`--system`), not part of its history; when
    /// only the turn to reply to follows them, nothing is dropped.
    public func droppingOldestExchange() -> Conversation {
        let leading = turns.prefix { $0.role == .system }.count
        let history = turns.dropFirst(leading)
        guard !history.isEmpty, leading == 0 || history.count > 1 else { return self }
        let first = history.startIndex
        let drop = history.count >= 2 && history[first].role == .user && history[first + 1].role == .assistant ? 2 : 1
        return Conversation(Array(turns.prefix(leading)) + Array(history.dropFirst(drop)))
    }

    /// The rule for formats without a system role (`PromptFormatStyle.placingSystemTurns(in:)`):
    /// each system turn's text goes in front of the next user turn, one line per instruction;
    /// instructions after the last user turn go in front of that one instead. The model then reads
    /// them in the only place it reads anything but its own replies, and the text the OpenAI
    /// server has always sent rinna's models stays the same. Empty system turns add nothing (not
    /// even a blank line); with no user turn at all, the instructions have nowhere to go and are
    /// dropped (such a conversation has nothing to reply to anyway).
    public func foldingSystemTurnsIntoUserTurns() -> Conversation {
        var folded: [ChatTurn] = []
        var instructions: [String] = []
        var lastUser: Int?
        for turn in turns {
            switch turn.role {
            case .system:
                if !turn.text.isEmpty { instructions.append(turn.text) }
            case .user:
                folded.append(ChatTurn(.user, (instructions + [turn.text]).joined(separator: "\n")))
                instructions = []
                lastUser = folded.count - 1
            case .assistant:
                folded.append(turn)
            }
        }
        if !instructions.isEmpty, let lastUser {
            folded[lastUser].text = (instructions + [folded[lastUser].text]).joined(separator: "\n")
        }
        return Conversation(folded)
    }
}

/// One utterance.
public struct ChatTurn: Codable, Sendable, Equatable {
    public var role: ChatRole
    public var text: String

    public init(_ role: ChatRole, _ text: String) {
        self.role = role
        self.text = text
    }
}
