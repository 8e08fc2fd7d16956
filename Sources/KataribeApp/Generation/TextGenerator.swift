import KataribeGeneration
import KataribeModels
import KataribeTokenizers

/// Generates text with a loaded model: formats and tokenizes the prompt as the preset says, checks
/// it against the context, and streams the result. Shareable; every request gets its own session.
///
/// ```swift
/// let model = try await LoadedModel.load("demo-calm")
/// let generator = TextGenerator(model: model)
/// let stream = try generator.generate(prompt: "吾輩は猫である。", parameters: GenerationParameters(maxNewTokens: 32, seed: 1))
/// for try await event in stream {
///     switch event {
///     case .text(let chunk, _): print(chunk, terminator: "")
///     case .finished(let summary): print("\n\(summary.timing.tokensPerSecond ?? 0) tokens/s")
///     case .sampleFinished: break
///     }
/// }
/// ```
public struct TextGenerator: Sendable {
    public let model: LoadedModel

    public init(model: LoadedModel) {
        self.model = model
    }

    /// Generates from `prompt` in the model's prompt format (`options.format` overrides it).
    /// `parameters` are merged over the model's defaults (`LoadedModel.parameters(_:)`).
    public func generate(prompt: String, parameters: GenerationParameters = GenerationParameters(),
                         options: GenerationOptions = GenerationOptions()) throws(TextGenerationError) -> GenerationStream {
        stream(try prepare(.text(prompt), parameters: parameters, options: options))
    }

    /// The next assistant reply to `conversation` (which must end with a user turn). The caller adds
    /// the reply (`GeneratedSample.text`) to its history for the next turn.
    public func chat(_ conversation: Conversation, parameters: GenerationParameters = GenerationParameters(),
                     options: GenerationOptions = GenerationOptions()) throws(TextGenerationError) -> GenerationStream {
        stream(try prepare(.conversation(conversation), parameters: parameters, options: options))
    }

    /// Runs a prepared request. Nothing runs until the stream is iterated.
    public func stream(_ prepared: PreparedGeneration) -> GenerationStream {
        let channel = EventChannel()
        let handoff = GenerationWorker.Handoff(GenerationWorker(model: model, prepared: prepared, channel: channel))
        return GenerationStream(channel: channel) { GenerationWorker.run(handoff, channel: channel) }
    }

    /// Checks the settings, formats and tokenizes the prompt, and fits it to the context.
    public func prepare(_ input: PromptInput, parameters overrides: GenerationParameters = GenerationParameters(),
                        options: GenerationOptions = GenerationOptions()) throws(TextGenerationError) -> PreparedGeneration {
        var parameters: ResolvedGenerationParameters
        do { parameters = try model.parameters(overrides).resolved() } catch { throw .parameters(error) }
        let format = options.format ?? model.preset.promptFormat
        let policy = options.contextOverflow

        var promptText: String?
        var tokens: [Int] = []
        var droppedTurns = 0
        switch input {
        case .text(let text):
            let text = format.prompt(forText: text)
            promptText = text
            tokens = encode(text)
        case .conversation(var conversation):
            guard format.hasTurns else { throw .chatNotSupported(model: model.name, format: format) }
            guard conversation.endsWithUserTurn else { throw .conversationMustEndWithUser }
            // Whole exchanges go first when the history is too long; token truncation is the last resort.
            while true {
                guard let text = format.prompt(for: conversation) else {
                    throw .chatNotSupported(model: model.name, format: format)
                }
                promptText = text
                tokens = encode(text)
                guard policy == .truncateLeft, conversation.turns.count > 1,
                      try !fits(tokens.count, parameters: parameters) else { break }
                let shorter = conversation.droppingOldestExchange()
                droppedTurns += conversation.turns.count - shorter.turns.count
                conversation = shorter
            }
        case .tokens(let ids):
            if let bad = ids.first(where: { $0 < 0 || $0 >= model.model.vocabularySize }) {
                throw .tokenOutOfRange(token: bad, vocabularySize: model.model.vocabularySize)
            }
            tokens = ids
        }

        guard !tokens.isEmpty else { throw .emptyPrompt }
        let maxNewTokens: Int
        do { maxNewTokens = try parameters.maxNewTokens(promptLength: tokens.count) } catch { throw .parameters(error) }
        let plan: ContextPlan
        do {
            plan = try ContextBudget.plan(promptTokenCount: tokens.count, maxNewTokens: maxNewTokens,
                                          contextLength: model.contextLength, policy: policy)
        } catch {
            throw Self.describe(error)
        }
        parameters.maxNewTokens = plan.maxNewTokens
        return PreparedGeneration(
            input: input, format: format, promptText: promptText, promptTokens: ContextBudget.apply(plan, to: tokens),
            droppedPromptTokens: plan.droppedPromptTokens, droppedTurns: droppedTurns, parameters: parameters,
            seed: SamplingSession.requestSeed(parameters), tokenPacing: options.tokenPacing)
    }

    /// The prompt ids for `text`, with the preset's `add_special_tokens`.
    public func encode(_ text: String) -> [Int] {
        model.tokenizer.encode(text, addSpecialTokens: model.preset.addSpecialTokens)
    }

    private func fits(_ promptTokens: Int, parameters: ResolvedGenerationParameters) throws(TextGenerationError) -> Bool {
        guard promptTokens > 0 else { return true }
        do {
            return try promptTokens + parameters.maxNewTokens(promptLength: promptTokens) <= model.contextLength
        } catch {
            throw .parameters(error)
        }
    }

    private static func describe(_ error: ContextLengthError) -> TextGenerationError {
        switch error {
        case let .tooLong(prompt, maxNew, context): return .promptTooLong(promptTokens: prompt, maxNewTokens: maxNew, contextLength: context)
        case .emptyPrompt: return .emptyPrompt
        case .invalidLimits: return .context(error)
        }
    }
}
