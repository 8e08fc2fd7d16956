/// What to do when the prompt plus the requested new tokens do not fit the model's context.
public enum ContextOverflowPolicy: String, Codable, Sendable, CaseIterable {
    /// Refuse (default): the caller must shorten the prompt or lower max_new_tokens.
    case error
    /// Drop the oldest prompt tokens until prompt + max_new_tokens fits. For chat prompts prefer
    /// `Conversation.droppingOldestExchange()`, which keeps turns whole.
    case truncateLeft = "truncate-left"
}

/// How a prompt will be fed: how many leading prompt tokens to drop and how many to keep.
public struct ContextPlan: Sendable, Equatable {
    public let droppedPromptTokens: Int
    public let keptPromptTokens: Int
    public let maxNewTokens: Int
}

public enum ContextBudget {
    /// Checks `promptTokenCount + maxNewTokens <= contextLength` (the model's
    /// `max_position_embeddings`) and applies `policy` when it does not hold.
    public static func plan(promptTokenCount: Int, maxNewTokens: Int, contextLength: Int,
                            policy: ContextOverflowPolicy = .error) throws(ContextLengthError) -> ContextPlan {
        guard promptTokenCount > 0 else { throw .emptyPrompt }
        guard maxNewTokens > 0, contextLength > 0 else {
            throw .invalidLimits(maxNewTokens: maxNewTokens, contextLength: contextLength)
        }
        let overflow = promptTokenCount + maxNewTokens - contextLength
        if overflow <= 0 {
            return ContextPlan(droppedPromptTokens: 0, keptPromptTokens: promptTokenCount, maxNewTokens: maxNewTokens)
        }
        switch policy {
        case .error:
            throw .tooLong(promptTokens: promptTokenCount, maxNewTokens: maxNewTokens, contextLength: contextLength)
        case .truncateLeft:
            guard maxNewTokens < contextLength else {
                throw .tooLong(promptTokens: promptTokenCount, maxNewTokens: maxNewTokens, contextLength: contextLength)
            }
            return ContextPlan(droppedPromptTokens: overflow, keptPromptTokens: promptTokenCount - overflow,
                               maxNewTokens: maxNewTokens)
        }
    }

    /// The prompt after `plan` (its last `keptPromptTokens` ids).
    public static func apply(_ plan: ContextPlan, to prompt: [Int]) -> [Int] {
        Array(prompt.suffix(plan.keptPromptTokens))
    }
}

public enum ContextLengthError: Error, CustomStringConvertible, Equatable, Sendable {
    case tooLong(promptTokens: Int, maxNewTokens: Int, contextLength: Int)
    case emptyPrompt
    case invalidLimits(maxNewTokens: Int, contextLength: Int)

    public var description: String {
        switch self {
        case let .tooLong(prompt, maxNew, context):
            return "the prompt (\(prompt) tokens) plus max_new_tokens (\(maxNew)) exceeds the context length \(context); "
                + "shorten the prompt, lower max_new_tokens, or allow truncation"
        case .emptyPrompt:
            return "the prompt has no tokens"
        case let .invalidLimits(maxNew, context):
            return "max_new_tokens (\(maxNew)) and the context length (\(context)) must be positive"
        }
    }
}
