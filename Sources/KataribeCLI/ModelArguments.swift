import ArgumentParser
import Foundation
import KataribeApp
import KataribeGeneration
import KataribeModels
import KataribeTensor

// `--format` takes the same names as a suite's `prompt_format:`; listing them keeps ArgumentParser's
// help and its "Please provide one of 'plain' and 'rinna-chat'" error as they were for the enum.
extension PromptFormat: ExpressibleByArgument {
    public init?(argument: String) {
        guard let format = PromptFormat.named(argument) else { return nil }
        self = format
    }

    public var defaultValueDescription: String { name }
    public static var allValueStrings: [String] { PromptFormat.names }
    public static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
}

/// `--model` and the options that decide how it is found and loaded (generate, chat, serve, score).
struct ModelArguments: ParsableArguments {
    @Option(name: .long, help: ModelNames.modelHelp)
    var model: String

    @Option(name: .long, help: ArgumentHelp(
        "Use this preset's settings (tokenizer kind, prompt format, generation defaults) for the model.",
        discussion: "By default a preset is matched by name (or hub repository); folders that match none get the open-calm or rinna settings their tokenizer suggests.",
        valueName: "preset-id"))
    var preset: String?

    @Option(name: .long, help: ModelNames.revisionHelp)
    var revision: String?

    @Flag(name: .long, help: ModelNames.offlineHelp)
    var offline = false

    @Option(name: .long, help: "Worker threads for the forward pass (default: one per core).")
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Weight format: f32, f16, bf16, q8, q4 (default: as stored).",
        discussion: "q8 and q4 quantize at the first load and save the result under ~/.cache/kataribe/quantized ($KATARIBE_QUANTIZED_CACHE), so later loads map it directly. bf16 also rounds the inputs of every matrix product to bfloat16, as transformers' bfloat16 Linear layers do (AVX-512 BF16 prompts where the CPU has it); without --dtype, bfloat16 checkpoints multiply float32 activations."))
    var dtype: String?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try ModelNames.validate(dtype: dtype)
    }

    var weightFormat: WeightFormat? { dtype.flatMap(WeightFormat.init(dtypeName:)) }

    func options(format: PromptFormat? = nil) -> ModelLoadOptions {
        ModelLoadOptions(threads: threads, preset: preset,
                         presetOverrides: format.map { ModelPresetOverrides(promptFormat: $0) },
                         revision: revision, offline: offline ? true : nil, weightFormat: weightFormat,
                         quantizedCache: weightFormat?.standardQuantizedCache)
    }

    /// The model's folder without loading anything (commands that read only the weights).
    func locate() async -> URL {
        await ModelNames.locate(model, revision: revision, offline: offline)
    }

    /// Resolves and loads the model (download progress on stderr); exits with the error otherwise.
    func load(format: PromptFormat? = nil) async -> LoadedModel {
        let renderer = ProgressRenderer(terminal: Terminal.stderrTakesEscapes)
        do {
            let loaded = try await LoadedModel.load(model, options: options(format: format)) { renderer.render($0) }
            renderer.finish()
            return loaded
        } catch {
            renderer.finish()
            CLIOutput.fail(error.description)
        }
    }
}

/// `--model`, `--revision` and `--offline` of the commands that read only a model's weights and
/// config (inspect, bench): the same names as everywhere else, and no preset, since nothing is
/// tokenized or generated.
struct ModelLocationArguments: ParsableArguments {
    @Option(name: .long, help: ModelNames.modelHelp)
    var model: String

    @Option(name: .long, help: ModelNames.revisionHelp)
    var revision: String?

    @Flag(name: .long, help: ModelNames.offlineHelp)
    var offline = false

    func locate() async -> URL {
        await ModelNames.locate(model, revision: revision, offline: offline)
    }
}

/// What every command that takes a model says about model names, and how it finds the folder.
enum ModelNames {
    static let modelHelp = ArgumentHelp(
        "The model: a folder, a demo model (demo-calm, demo-rinna-sft), a preset id (open-calm-7b) or a Hugging Face id (cyberagent/open-calm-7b).",
        discussion: "Demo models are looked up in $KATARIBE_MODELS_DIR, <executable>/../share/kataribe/Models, the source checkout's Models/ and ./Models. Hub models come from the Hugging Face cache or are downloaded. `kataribe models` lists demo models and presets.",
        valueName: "name-or-path")
    static let revisionHelp: ArgumentHelp = "Branch, tag or commit of a hub model (default: main)."
    static let offlineHelp: ArgumentHelp = "Never use the network: hub models must be in the cache (like HF_HUB_OFFLINE=1)."

    static func validate(dtype: String?) throws {
        if let dtype, WeightFormat(dtypeName: dtype) == nil {
            throw ValidationError("--dtype must be one of \(WeightFormat.dtypeNames.joined(separator: ", "))")
        }
    }

    /// The folder `name` stands for (`ModelResolver`; download progress on stderr); exits with the error otherwise.
    static func locate(_ name: String, revision: String?, offline: Bool) async -> URL {
        let renderer = ProgressRenderer(terminal: Terminal.stderrTakesEscapes)
        do {
            let located = try await ModelResolver().locate(name, revision: revision, offline: offline ? true : nil) { renderer.render($0) }
            renderer.finish()
            return located.folder
        } catch {
            renderer.finish()
            CLIOutput.fail(error.description)
        }
    }
}

/// How to choose tokens.
enum DecodingChoice: String, EnumerableFlag {
    case doSample
    case greedy

    static func help(for value: DecodingChoice) -> ArgumentHelp? {
        switch value {
        case .doSample: return "Sample from the processed distribution (do_sample=True)."
        case .greedy: return "Always take the most likely token (do_sample=False)."
        }
    }
}

/// The sampling flags shared by generate and chat. Unset flags keep the model's defaults: its preset
/// (the model card's generate() arguments) over its generation_config.json.
struct SamplingArguments: ParsableArguments {
    @Flag(exclusivity: .exclusive, help: "Sampling or greedy decoding (default: the preset's; open-calm and rinna cards sample).")
    var decoding: DecodingChoice?

    @Option(name: .long, help: "Softmax temperature when sampling; 0 picks the most likely token (default: preset, e.g. 0.7; transformers' default 1.0).")
    var temperature: Double?

    @Option(name: .long, help: "Keep only the K most likely tokens when sampling; 0 disables (transformers' default 50).")
    var topK: Int?

    @Option(name: .long, help: "Nucleus sampling: keep the smallest set of tokens with probability ≥ P (default: preset, else 1.0).")
    var topP: Double?

    @Option(name: .long, help: "Locally typical sampling mass (default 1.0 = off).")
    var typicalP: Double?

    @Option(name: .long, help: "Penalize tokens already in the prompt or output; > 1 discourages repeats (default: preset, else 1.0).")
    var repetitionPenalty: Double?

    @Option(name: .long, help: "Never repeat an n-gram of this size (default 0 = off).")
    var noRepeatNgramSize: Int?

    @Option(name: .long, help: "Suppress end-of-sequence until this many tokens are generated (default 0).")
    var minNewTokens: Int?

    @Option(name: .long, help: "Generate at most this many tokens (default: preset, e.g. 64 for open-calm, 128 for rinna chat).")
    var maxNewTokens: Int?

    @Option(name: .long, help: "Stop when the text contains this string (repeatable). The string stays in the output unless --strip-stop.")
    var stop: [String] = []

    @Flag(name: .long, help: "Cut the output before a matched stop string (the OpenAI API's behaviour).")
    var stripStop = false

    @Option(name: .long, help: "Seed of the sampler; the same seed gives the same text (default: random, reported on stderr).")
    var seed: UInt64?

    /// The shared rules (`GenerationParameterRules`) before any model loads, in the flags' names.
    func validate() throws {
        do {
            try parameters().validate()
        } catch {
            throw ValidationError(Self.flagMessage(error))
        }
    }

    /// "--top-p must be between 0 and 1 (got 1.5)" for what the rules call top_p.
    static func flagMessage(_ error: GenerationParameterError) -> String {
        guard case let .invalid(name, value, reason) = error else { return error.description }
        let flag = name == "stop_strings" ? "--stop" : "--" + name.replacingOccurrences(of: "_", with: "-")
        return "\(flag) \(reason) (got \(value))"
    }

    /// Everything given on the command line; unset fields fall through to the model's defaults.
    func parameters(samples: Int? = nil) -> GenerationParameters {
        GenerationParameters(
            doSample: decoding.map { $0 == .doSample }, temperature: temperature, topK: topK, topP: topP,
            typicalP: typicalP, repetitionPenalty: repetitionPenalty, noRepeatNgramSize: noRepeatNgramSize,
            minNewTokens: minNewTokens, maxNewTokens: maxNewTokens, stopStrings: stop.isEmpty ? nil : stop,
            numReturnSequences: samples, seed: seed, stopStringHandling: stripStop ? .strip : nil)
    }
}

extension GenerationTiming {
    /// "prompt 7 tokens in 0.012 s · 20 tokens in 0.250 s, 80.0 tokens/s".
    var statsLine: String {
        let rate = tokensPerSecond.map { String(format: "%.1f tokens/s", $0) } ?? "- tokens/s"
        return String(format: "prompt %d tokens in %.3f s · %d tokens in %.3f s, ", promptTokens, promptSeconds,
                      generatedTokens, generationSeconds) + rate
    }
}
