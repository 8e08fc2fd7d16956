import ArgumentParser
import Foundation
import KataribeApp
import KataribeGeneration

/// `kataribe generate --model M --prompt TEXT`: streams a continuation (or n samples) to stdout.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a prompt, streaming it to the terminal.",
        discussion: """
        Settings come in layers, each overriding the one before: transformers' defaults, the model's \
        generation_config.json (eos/pad ids), the model's preset (its model card's generate() arguments; \
        `kataribe models` shows them), then the flags given here. Sampling follows transformers exactly \
        (processor order, top_k 50 when sampling and not given); --seed makes sampling repeatable.

        Plain-format models (open-calm) continue the prompt, which is printed before the continuation \
        (--no-echo to leave it out). Chat models take the prompt as one user message (after a --system \
        message when given): rinna's (demo-rinna-sft, rinna-3.6b-sft-v2) in their ユーザー/システム format, \
        with <NL> shown as newlines in the reply; models that ship a chat template (Llama 3, Qwen2.5, \
        Gemma, llm-jp-3, ... and any folder with a chat_template in its tokenizer_config.json) through \
        that template, rendered as transformers' apply_chat_template renders it.

        Timing and the stop reason go to stderr. --json prints one JSON object per sample per line \
        instead of streaming (see README: kataribe generate).
        """)

    @OptionGroup var modelArguments: ModelArguments

    @Option(name: .long, help: "The prompt text.")
    var prompt: String?

    @Option(name: .long, help: ArgumentHelp("Read the prompt from this file (UTF-8; '-' reads stdin).", valueName: "path"))
    var promptFile: String?

    @Option(name: .long, help: "Prompt format; template is the model's own chat template (default: the preset's).")
    var format: PromptFormat?

    @Option(name: .long, help: ArgumentHelp(
        "A system message before the prompt (chat formats only).",
        discussion: "Formats without a system role (rinna's, Gemma 2's template) put it in front of the user's message."))
    var system: String?

    @OptionGroup(title: "Sampling") var sampling: SamplingArguments

    @Option(name: .long, help: "Independent samples for the prompt (num_return_sequences; needs sampling).")
    var samples: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Samples decoded together in one batch (default: all of them).",
        discussion: "Each forward step advances every sample in the batch while reading the weights once. The samples are the same text whatever the batch size."))
    var batch: Int?

    @Flag(name: .long, help: "When the prompt and max-new-tokens exceed the context, drop the oldest prompt tokens instead of failing.")
    var truncate = false

    @Flag(name: .long, help: "Do not print the prompt before a plain-format continuation.")
    var noEcho = false

    @Flag(name: .long, help: "Print one JSON object per sample (JSON lines) instead of streaming text.")
    var json = false

    func validate() throws {
        if prompt == nil && promptFile == nil { throw ValidationError("give --prompt or --prompt-file") }
        if prompt != nil && promptFile != nil { throw ValidationError("give only one of --prompt and --prompt-file") }
        if let samples, samples < 1 { throw ValidationError("--samples must be at least 1") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    /// The prompt as the model's format takes it: the typed text, or a system message and the text
    /// as a conversation.
    func input(_ text: String, format: PromptFormat) -> PromptInput {
        guard let system else { return .text(text) }
        guard format.hasTurns else {
            CLIOutput.fail("--system needs a chat format; \(modelArguments.model) uses the \(format.name) format (see --format)")
        }
        return .conversation(Conversation([ChatTurn(.system, system), ChatTurn(.user, text)]))
    }

    func run() async throws {
        let text = readPrompt()
        let loaded = await modelArguments.load(format: format)
        let generator = TextGenerator(model: loaded, requestBatch: batch)
        let prepared: PreparedGeneration
        do {
            prepared = try generator.prepare(input(text, format: loaded.preset.promptFormat), parameters: sampling.parameters(samples: samples),
                                             options: GenerationOptions(contextOverflow: truncate ? .truncateLeft : .error))
        } catch {
            CLIOutput.fail(error.description)
        }
        if prepared.droppedPromptTokens > 0 {
            Terminal.err("note: dropped the first \(prepared.droppedPromptTokens) prompt tokens to fit the context of \(loaded.contextLength)\n")
        }
        // Only a completion format continues the prompt, so only there does echoing it make one text.
        let echo = !noEcho && !json && !prepared.format.hasTurns
        let count = prepared.parameters.numReturnSequences
        // Samples are generated together; each is shown whole, in order: the first streams as it
        // comes, the others' text waits until the ones before them are done.
        var printer = SampleOrderPrinter(count: json ? 0 : count) { index in
            startSample(index, of: count, prepared: prepared, echo: echo, prompt: text)
        }
        var summary: GenerationSummary?
        do {
            for try await event in generator.stream(prepared) {
                switch event {
                case .text(let chunk, let sample):
                    if !json { printer.text(chunk, sample: sample) }
                case .sampleFinished(let sample):
                    if !json { printer.finished(sample.index) }
                case .finished(let result):
                    summary = result
                }
            }
        } catch {
            CLIOutput.fail("\(error)")
        }
        guard let summary else { return }
        if json {
            for sample in summary.samples {
                Terminal.out(try jsonLine(GenerateJSONLine(model: loaded, prepared: prepared, prompt: text, system: system,
                                                           sample: sample, promptSeconds: summary.timing.promptSeconds)))
            }
        }
        printStats(summary)
    }

    /// Prints what comes before the first chunk of a sample: a header when there are several, the prompt.
    private func startSample(_ index: Int, of count: Int, prepared: PreparedGeneration, echo: Bool, prompt: String) {
        if count > 1 { Terminal.out("--- sample \(index + 1)/\(count) (seed \(prepared.seed &+ UInt64(index))) ---\n") }
        if echo { Terminal.out(prompt) }
    }

    private func readPrompt() -> String {
        if let prompt { return prompt }
        guard let promptFile else { return "" }
        let data: Data?
        if promptFile == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            data = FileManager.default.contents(atPath: promptFile)
        }
        guard let data else { CLIOutput.fail("cannot read the prompt file \(promptFile)") }
        guard let text = String(data: data, encoding: .utf8) else { CLIOutput.fail("\(promptFile) is not valid UTF-8") }
        return text
    }

    private func printStats(_ summary: GenerationSummary) {
        let stops = summary.samples.map { $0.stopReason.rawValue + ($0.stopString.map { " \($0.debugDescription)" } ?? "") }
        let stop = Set(stops).count == 1 ? stops[0] : stops.joined(separator: ", ")
        Terminal.err("[\(summary.timing.statsLine) · stop: \(stop) · seed \(summary.seed)]\n")
    }

    private func jsonLine<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}

/// Prints the samples of one request one after another although their text arrives interleaved:
/// the sample being shown streams, later ones are held until it finishes.
struct SampleOrderPrinter {
    let count: Int
    let start: (Int) -> Void
    private var shown = 0
    private var held: [Int: String] = [:]
    private var finished: Set<Int> = []

    init(count: Int, start: @escaping (Int) -> Void) {
        self.count = count
        self.start = start
        if count > 0 { start(0) }
    }

    mutating func text(_ chunk: String, sample: Int) {
        if sample == shown { Terminal.out(chunk) } else { held[sample, default: ""] += chunk }
    }

    mutating func finished(_ sample: Int) {
        finished.insert(sample)
        while finished.contains(shown) {
            Terminal.out("\n")
            shown += 1
            guard shown < count else { return }
            start(shown)
            if let text = held.removeValue(forKey: shown) { Terminal.out(text) }
        }
    }
}

/// One line of `kataribe generate --json` (documented in README.md).
struct GenerateJSONLine: Encodable {
    let model: String
    let preset: String
    let format: String
    let prompt: String
    let system: String?
    /// The exact text given to the tokenizer (the prompt written by the format).
    let promptAsSent: String?
    /// The ids fed to the model.
    let promptIDs: [Int]
    let promptTokens: Int
    let droppedPromptTokens: Int
    let requestSeed: UInt64
    let sample: Int
    let seed: UInt64
    let text: String
    let rawText: String
    let tokens: [Int]
    let tokenCount: Int
    let stopReason: String
    let stopString: String?
    let promptSeconds: Double
    let generationSeconds: Double
    let tokensPerSecond: Double?
    let parameters: GenerationParameters

    init(model: LoadedModel, prepared: PreparedGeneration, prompt: String, system: String?, sample: GeneratedSample,
         promptSeconds: Double) {
        self.model = model.name
        preset = model.preset.id
        format = prepared.format.name
        self.prompt = prompt
        self.system = system
        promptAsSent = prepared.promptText
        promptIDs = prepared.promptTokens
        promptTokens = prepared.promptTokens.count
        droppedPromptTokens = prepared.droppedPromptTokens
        requestSeed = prepared.seed
        self.sample = sample.index
        seed = sample.seed
        text = sample.text
        rawText = sample.rawText
        tokens = sample.tokens
        tokenCount = sample.tokens.count
        stopReason = sample.stopReason.rawValue
        stopString = sample.stopString
        self.promptSeconds = promptSeconds
        generationSeconds = sample.seconds
        tokensPerSecond = sample.seconds > 0 ? Double(sample.tokens.count) / sample.seconds : nil
        parameters = GenerateJSONLine.effective(prepared.parameters)
    }

    enum CodingKeys: String, CodingKey {
        case model, preset, format, prompt, system, sample, seed, text, tokens, parameters
        case promptAsSent = "prompt_as_sent", promptIDs = "prompt_ids"
        case promptTokens = "prompt_tokens", droppedPromptTokens = "dropped_prompt_tokens", requestSeed = "request_seed"
        case rawText = "raw_text", tokenCount = "token_count", stopReason = "stop_reason", stopString = "stop_string"
        case promptSeconds = "prompt_seconds", generationSeconds = "generation_seconds", tokensPerSecond = "tokens_per_second"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(preset, forKey: .preset)
        try c.encode(format, forKey: .format)
        try c.encode(prompt, forKey: .prompt)
        try c.encodeIfPresent(system, forKey: .system)
        try c.encode(promptAsSent, forKey: .promptAsSent)
        try c.encode(promptIDs, forKey: .promptIDs)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(droppedPromptTokens, forKey: .droppedPromptTokens)
        try c.encode(requestSeed, forKey: .requestSeed)
        try c.encode(sample, forKey: .sample)
        try c.encode(seed, forKey: .seed)
        try c.encode(text, forKey: .text)
        try c.encode(rawText, forKey: .rawText)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(tokenCount, forKey: .tokenCount)
        try c.encode(stopReason, forKey: .stopReason)
        try c.encode(stopString, forKey: .stopString)
        try c.encode(promptSeconds, forKey: .promptSeconds)
        try c.encode(generationSeconds, forKey: .generationSeconds)
        try c.encode(tokensPerSecond, forKey: .tokensPerSecond)
        try c.encode(parameters, forKey: .parameters)
    }

    /// The settings actually used, with transformers' names.
    static func effective(_ p: ResolvedGenerationParameters) -> GenerationParameters {
        GenerationParameters(
            doSample: p.doSample, temperature: p.temperature, topK: p.topK, topP: p.topP, typicalP: p.typicalP,
            repetitionPenalty: p.repetitionPenalty, noRepeatNgramSize: p.noRepeatNgramSize, minNewTokens: p.minNewTokens,
            maxNewTokens: p.maxNewTokens, eosTokenIds: p.eosTokenIds, padTokenId: p.padTokenId, stopStrings: p.stopStrings,
            numReturnSequences: p.numReturnSequences, seed: p.seed, stopStringHandling: p.stopStringHandling)
    }
}
