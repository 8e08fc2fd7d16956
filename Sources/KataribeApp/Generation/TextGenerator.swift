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
    /// Where requests run. A shared engine batches every request of this generator (`serve
    /// --parallel`, compare's samples); nil gives each request an engine of its own, which
    /// batches that request's samples (all of them, or `requestBatch` at a time).
    public let engine: GenerationEngine?
    public let requestBatch: Int?

    public init(model: LoadedModel, engine: GenerationEngine? = nil, requestBatch: Int? = nil) {
        self.model = model
        self.engine = engine
        self.requestBatch = requestBatch
    }

    /// A generator whose requests share one engine of `maxSequences` slots.
    public init(model: LoadedModel, sharedBatch maxSequences: Int) {
        self.init(model: model, engine: GenerationEngine(model: model, maxSequences: maxSequences))
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
        let engine = self.engine
            ?? GenerationEngine(model: model, maxSequences: requestBatch ?? prepared.parameters.numReturnSequences)
        return engine.stream(prepared)
    }

    /// Checks the settings, formats and tokenizes the prompt, and fits it to the context.
    public func prepare(_ input: PromptInput, parameters overrides: GenerationParameters = GenerationParameters(),
                        options: GenerationOptions = GenerationOptions()) throws(TextGenerationError) -> PreparedGeneration {
        var parameters: ResolvedGenerationParameters
        do {
            // The caller's values are held to their domains whatever do_sample says; the merged
            // settings (model files' included) as transformers holds them.
            try overrides.validate()
            parameters = try model.parameters(overrides).resolved()
        } catch {
            throw .parameters(error)
        }
        let format: PromptFormat
        do { format = try model.resolving(options.format ?? model.preset.promptFormat) } catch {
            if case .noChatTemplate = error { throw .promptFormat(.noChatTemplate(model: model.name)) }
            throw .promptFormat(.chatTemplate(message: error.description))
        }
        let policy = options.contextOverflow
        // A chat template writes the special tokens itself; transformers tokenizes its text with
        // add_special_tokens=False, so a second BOS never appears.
        let addSpecialTokens = format.rendersSpecialTokens ? false : model.preset.addSpecialTokens

        var promptText: String?
        var tokens: [Int] = []
        var droppedTurns = 0
        switch input {
        case .text(let typed):
            let text: String
            do { text = try format.checkedPrompt(forText: typed) } catch { throw .promptFormat(error) }
            promptText = text
            tokens = encode(text, addSpecialTokens: addSpecialTokens)
        case .conversation(var conversation):
            guard format.hasTurns else { throw .chatNotSupported(model: model.name, format: format) }
            guard conversation.endsWithUserTurn else { throw .conversationMustEndWithUser }
            // Whole exchanges go first when the history is too long; token truncation is the last resort.
            while true {
                let rendered: String?
                do { rendered = try format.checkedPrompt(for: conversation) } catch { throw .promptFormat(error) }
                guard let text = rendered else {
                    throw .chatNotSupported(model: model.name, format: format)
                }
                promptText = text
                tokens = encode(text, addSpecialTokens: addSpecialTokens)
                guard policy == .truncateLeft, conversation.turns.count > 1,
                      try !fits(tokens.count, parameters: parameters) else { break }
                let shorter = conversation.droppingOldestExchange()
                guard shorter.turns.count < conversation.turns.count else { break }
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
            seed: SamplingSession.requestSeed(parameters), tokenPacing: options.tokenPacing, skipSpecialTokens: options.skipSpecialTokens)
    }

    /// The prompt ids for `text`, with the preset's `add_special_tokens`.
    public func encode(_ text: String) -> [Int] {
        encode(text, addSpecialTokens: model.preset.addSpecialTokens)
    }

    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        model.tokenizer.encode(text, addSpecialTokens: addSpecialTokens)
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
