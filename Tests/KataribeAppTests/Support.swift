import Foundation
import Synchronization
import KataribeApp
import KataribeGeneration
import KataribeModels
import KataribeTestSupport
import KataribeTokenizers

/// The tiny models of Tests/Fixtures/generation-e2e (tools/fixtures/make_generation_fixtures.py).
enum Fixtures {
    static let calmFolder = TestPaths.fixture("generation-e2e/calm")
    static let rinnaFolder = TestPaths.fixture("generation-e2e/rinna")

    static func preset(_ id: String) throws -> ModelPreset { try ModelPresetCatalog.preset(named: id) }

    /// The open-calm-style model with open-calm's preset.
    static func calm(threads: Int? = nil) throws -> LoadedModel {
        try LoadedModel(folder: calmFolder, preset: preset("open-calm-small"), options: ModelLoadOptions(threads: threads))
    }

    /// The rinna-style model with the instruction (chat) preset, or the base preset for plain text.
    static func rinna(chat: Bool = true) throws -> LoadedModel {
        try LoadedModel(folder: rinnaFolder, preset: preset(chat ? "rinna-3.6b-sft-v2" : "rinna-3.6b"))
    }

    static func rinnaTokenizer() throws -> any Tokenizer {
        try AutoTokenizer.load(from: rinnaFolder, preference: .slow)
    }
}

/// Everything a stream produced, per sample.
struct Collected {
    var chunks: [Int: [String]] = [:]
    var samples: [GeneratedSample] = []
    var summary: GenerationSummary?

    func text(of sample: Int) -> String { (chunks[sample] ?? []).joined() }
}

func collect(_ stream: GenerationStream) async throws -> Collected {
    var out = Collected()
    for try await event in stream {
        switch event {
        case .text(let chunk, let sample): out.chunks[sample, default: []].append(chunk)
        case .sampleFinished(let sample): out.samples.append(sample)
        case .finished(let summary): out.summary = summary
        }
    }
    return out
}

/// Greedy settings spelled out in full, so no preset default (sampling, repetition penalty) leaks in.
func greedy(maxNewTokens: Int, repetitionPenalty: Double = 1.0, noRepeatNgramSize: Int = 0, minNewTokens: Int = 0,
            eos: [Int]? = nil, stop: [String]? = nil, handling: StopStringHandling? = nil) -> GenerationParameters {
    GenerationParameters(doSample: false, repetitionPenalty: repetitionPenalty, noRepeatNgramSize: noRepeatNgramSize,
                         minNewTokens: minNewTokens, maxNewTokens: maxNewTokens, eosTokenIds: eos, stopStrings: stop,
                         stopStringHandling: handling)
}

/// A language model that "generates" a fixed script: after the prompt it gives token `script[k]` a
/// logit of 10 (all others 0) for the k-th new token, then `fallback` forever. Lets tests choose the
/// exact ids a generation produces (byte-fallback pieces, `<NL>`, `</s>`, stop strings).
final class ScriptedModel: CausalLanguageModel {
    struct Config: ModelConfig {
        var modelType = "scripted"
        var vocabularySize: Int
        var contextLength: Int
        var bosTokenID: Int? = nil
        var eosTokenIDs: [Int] = []
    }

    let script: [Int]
    let fallback: Int
    let configuration: Config
    /// Pause per token, so cancellation can be observed mid-generation.
    let delay: Duration
    var config: any ModelConfig { configuration }
    /// Forward calls so far, and the names of the threads that made them.
    let calls = Mutex<(count: Int, threads: Set<String>)>((0, []))

    init(script: [Int], fallback: Int = 1000, vocabularySize: Int, contextLength: Int = 64, delay: Duration = .zero) {
        self.script = script
        self.fallback = fallback
        self.configuration = Config(vocabularySize: vocabularySize, contextLength: contextLength)
        self.delay = delay
    }

    func makeSession() -> any LanguageModelSession { Session(model: self) }

    final class Session: LanguageModelSession {
        let scripted: ScriptedModel
        var tokens: [Int] = []
        var promptCount: Int?
        var model: any CausalLanguageModel { scripted }

        init(model: ScriptedModel) { scripted = model }

        func append(_ new: [Int]) throws(ModelError) -> [Float] {
            guard !new.isEmpty else { throw .emptyInput }
            guard tokens.count + new.count <= scripted.contextLength else {
                throw .contextOverflow(needed: tokens.count + new.count, limit: scripted.contextLength)
            }
            scripted.calls.withLock {
                $0.count += 1
                $0.threads.insert(Thread.current.name ?? "")
            }
            if scripted.delay > .zero {
                Thread.sleep(forTimeInterval: Double(scripted.delay.components.seconds) + Double(scripted.delay.components.attoseconds) * 1e-18)
            }
            tokens += new
            if promptCount == nil { promptCount = tokens.count }
            let step = tokens.count - (promptCount ?? 0)
            var logits = [Float](repeating: 0, count: scripted.vocabularySize)
            logits[step < scripted.script.count ? scripted.script[step] : scripted.fallback] = 10
            return logits
        }

        func appendReturningAllLogits(_ new: [Int]) throws(ModelError) -> [[Float]] { [try append(new)] }

        func rewind(to count: Int) throws(ModelError) {
            guard count <= tokens.count else { throw .invalidRewind(requested: count, available: tokens.count) }
            tokens.removeLast(tokens.count - count)
        }

        func reset() {
            tokens = []
            promptCount = nil
        }

        func fork() -> any LanguageModelSession {
            let copy = Session(model: scripted)
            copy.tokens = tokens
            copy.promptCount = promptCount
            return copy
        }

        var cacheBytes: Int { 0 }
    }
}

extension LoadedModel {
    /// The rinna fixture's tokenizer and chat preset over a scripted model.
    static func scripted(_ script: [Int], tokenizer: any Tokenizer, preset: ModelPreset, contextLength: Int = 64,
                         eos: [Int] = [3], delay: Duration = .zero) -> LoadedModel {
        LoadedModel(name: "scripted", folder: URL(fileURLWithPath: "/nonexistent"),
                    model: ScriptedModel(script: script, vocabularySize: tokenizer.vocabularySize, contextLength: contextLength,
                                         delay: delay),
                    tokenizer: tokenizer, preset: preset, modelGenerationConfig: GenerationParameters(eosTokenIds: eos))
    }
}
