import Foundation
import KataribeApp
import KataribeGeneration
import KataribeTokenizers
import Testing

@Suite("Sampling with a seed", .timeLimit(.minutes(2)))
struct SeededSamplingTests {
    /// open-calm's card settings (t=0.7, top_p=0.9, repetition penalty 1.05), shorter.
    let parameters = GenerationParameters(maxNewTokens: 24, seed: 1234)

    @Test("the same seed gives the same tokens and text")
    func sameSeed() async throws {
        let generator = TextGenerator(model: try Fixtures.calm())
        let first = try await generator.generate(prompt: "吾輩は猫である。", parameters: parameters).collect()
        let second = try await generator.generate(prompt: "吾輩は猫である。", parameters: parameters).collect()
        #expect(first.samples.map(\.tokens) == second.samples.map(\.tokens))
        #expect(first.text == second.text)
        #expect(first.seed == 1234)
    }

    @Test("different thread counts give the same text")
    func threadCounts() async throws {
        let one = try await TextGenerator(model: try Fixtures.calm(threads: 1)).generate(prompt: "東京の天気は", parameters: parameters).collect()
        let four = try await TextGenerator(model: try Fixtures.calm(threads: 4)).generate(prompt: "東京の天気は", parameters: parameters).collect()
        #expect(one.samples[0].tokens == four.samples[0].tokens)
        #expect(one.text == four.text)
    }

    @Test("different seeds give different samples, and without a seed a random one is reported")
    func otherSeeds() async throws {
        let generator = TextGenerator(model: try Fixtures.calm())
        let a = try await generator.generate(prompt: "東京の天気は", parameters: GenerationParameters(maxNewTokens: 24, seed: 1)).collect()
        let b = try await generator.generate(prompt: "東京の天気は", parameters: GenerationParameters(maxNewTokens: 24, seed: 2)).collect()
        #expect(a.samples[0].tokens != b.samples[0].tokens)
        let unseeded = try await generator.generate(prompt: "東京の天気は", parameters: GenerationParameters(maxNewTokens: 4)).collect()
        let repeated = try await generator.generate(
            prompt: "東京の天気は", parameters: GenerationParameters(maxNewTokens: 4, seed: unseeded.seed)).collect()
        #expect(repeated.samples[0].tokens == unseeded.samples[0].tokens)
    }

    @Test("n samples: sample i is the single-sample run with seed + i, and each streams its own text")
    func samples() async throws {
        let generator = TextGenerator(model: try Fixtures.calm())
        let many = try await collect(generator.generate(
            prompt: "吾輩は猫である。", parameters: GenerationParameters(maxNewTokens: 16, numReturnSequences: 3, seed: 7)))
        let summary = try #require(many.summary)
        #expect(summary.samples.map(\.index) == [0, 1, 2])
        #expect(summary.samples.map(\.seed) == [7, 8, 9])
        for sample in summary.samples {
            let single = try await generator.generate(
                prompt: "吾輩は猫である。", parameters: GenerationParameters(maxNewTokens: 16, seed: sample.seed)).collect()
            #expect(single.samples[0].tokens == sample.tokens)
            #expect(many.text(of: sample.index) == sample.text)
        }
        #expect(summary.timing.generatedTokens == summary.samples.reduce(0) { $0 + $1.tokens.count })
        #expect(summary.timing.promptTokens == summary.promptTokens.count)
    }

    @Test("several samples with greedy decoding are refused, as transformers refuses them")
    func greedySamples() throws {
        let generator = TextGenerator(model: try Fixtures.calm())
        #expect(throws: TextGenerationError.self) {
            try generator.prepare(.text("a"), parameters: GenerationParameters(doSample: false, numReturnSequences: 2))
        }
    }
}

@Suite("How a generation stops", .timeLimit(.minutes(1)))
struct StoppingBehaviourTests {
    let tokenizer: any Tokenizer
    let chat: ModelPreset

    init() throws {
        tokenizer = try Fixtures.rinnaTokenizer()
        chat = try Fixtures.preset("rinna-3.6b-sft-v2")
    }

    func run(_ reply: String, then extra: [Int] = [], parameters: GenerationParameters) async throws -> (GeneratedSample, String) {
        let script = tokenizer.encode(reply, addSpecialTokens: false) + extra
        let model = LoadedModel.scripted(script, tokenizer: tokenizer, preset: chat)
        let result = try await collect(TextGenerator(model: model).generate(prompt: "質問", parameters: parameters))
        return (try #require(result.samples.first), result.text(of: 0))
    }

    @Test("a stop string split over tokens stops the sample where it completes; the text keeps it by default")
    func stopStringKept() async throws {
        let (sample, streamed) = try await run("今日は晴れです。明日は雨です。", parameters: greedy(maxNewTokens: 30, stop: ["晴れで"]))
        #expect(sample.stopReason == .stopString && sample.stopString == "晴れで")
        #expect(sample.text.hasPrefix("今日は晴れで") && !sample.text.contains("明日"))
        #expect(streamed == sample.text)
    }

    @Test("with .strip the text ends before the stop string, also while streaming")
    func stopStringStripped() async throws {
        let (sample, streamed) = try await run("今日は晴れです。明日は雨です。",
                                               parameters: greedy(maxNewTokens: 30, stop: ["晴れで"], handling: .strip))
        #expect(sample.stopReason == .stopString)
        #expect(sample.text == "今日は")
        #expect(streamed == "今日は")
    }

    @Test("an eos id stops the sample and stays in its tokens; the chat text drops the </s>")
    func eos() async throws {
        let (sample, streamed) = try await run("はい", then: [3, 50, 60], parameters: greedy(maxNewTokens: 30))
        #expect(sample.stopReason == .eos && sample.tokens.last == 3)
        #expect(sample.rawText == "はい</s>")
        #expect(sample.text == "はい" && streamed == "はい")
    }

    @Test("max_new_tokens stops with .length")
    func length() async throws {
        let (sample, _) = try await run("今日は晴れです。明日は雨です。", parameters: greedy(maxNewTokens: 3))
        #expect(sample.stopReason == .length && sample.tokens.count == 3)
    }

    @Test("a character split over byte-fallback tokens is streamed whole, never as U+FFFD")
    func byteFallback() async throws {
        let ids = tokenizer.encode("𩸽です", addSpecialTokens: false)
        #expect(ids.count >= 5)  // four byte pieces for 𩸽
        let model = LoadedModel.scripted(ids + [3], tokenizer: tokenizer, preset: chat)
        let result = try await collect(TextGenerator(model: model).generate(prompt: "魚", parameters: greedy(maxNewTokens: 20)))
        let chunks = result.chunks[0] ?? []
        #expect(!chunks.contains { $0.contains("\u{FFFD}") })
        #expect(chunks.contains { $0.contains("𩸽") })
        #expect(chunks.joined() == "𩸽です")
        #expect(result.samples[0].text == "𩸽です")
    }
}

@Suite("rinna chat", .timeLimit(.minutes(1)))
struct RinnaChatTests {
    @Test("a conversation renders with RinnaChatFormat, the reply shows <NL> as newlines, and the next turn encodes it back")
    func roundTrip() async throws {
        let tokenizer = try Fixtures.rinnaTokenizer()
        let script = tokenizer.encode("はい<NL>そうです", addSpecialTokens: false) + [3]
        let model = LoadedModel.scripted(script, tokenizer: tokenizer, preset: try Fixtures.preset("rinna-3.6b-sft-v2"),
                                         contextLength: 128)
        let generator = TextGenerator(model: model)
        let first = Conversation([ChatTurn(.user, "質問です\n二行目")])
        let prepared = try generator.prepare(.conversation(first), parameters: greedy(maxNewTokens: 20))
        #expect(prepared.promptText == "ユーザー: 質問です<NL>二行目<NL>システム: ")
        #expect(prepared.promptTokens == tokenizer.encode(RinnaChatFormat.prompt(for: first), addSpecialTokens: false))

        let result = try await collect(generator.stream(prepared))
        let reply = try #require(result.samples.first)
        #expect(reply.rawText == "はい<NL>そうです</s>")
        #expect(reply.text == "はい\nそうです")
        #expect(result.text(of: 0) == reply.text)

        let second = first.appending(.assistant, reply.text).appending(.user, "次は？")
        let next = try generator.prepare(.conversation(second), parameters: greedy(maxNewTokens: 20))
        #expect(next.promptText == "ユーザー: 質問です<NL>二行目<NL>システム: はい<NL>そうです<NL>ユーザー: 次は？<NL>システム: ")
    }

    @Test("plain text for a chat model is one user turn")
    func textIsOneTurn() throws {
        let generator = TextGenerator(model: try Fixtures.rinna())
        let prepared = try generator.prepare(.text("日本の首都は？"), parameters: greedy(maxNewTokens: 4))
        #expect(prepared.format == .rinnaChat && prepared.promptText == "ユーザー: 日本の首都は？<NL>システム: ")
    }

    @Test("a conversation for a plain-format model, or one ending with the assistant, is refused")
    func refusals() throws {
        let calm = TextGenerator(model: try Fixtures.calm())
        #expect(throws: TextGenerationError.chatNotSupported(model: Fixtures.calmFolder.path, format: .plain)) {
            try calm.prepare(.conversation(Conversation([ChatTurn(.user, "a")])))
        }
        let rinna = TextGenerator(model: try Fixtures.rinna())
        #expect(throws: TextGenerationError.conversationMustEndWithUser) {
            try rinna.prepare(.conversation(Conversation([ChatTurn(.user, "a"), ChatTurn(.assistant, "b")])))
        }
    }
}

/// The slow model takes 2 ms per token and would run for seconds, so each check asks only that the
/// generation ended long before `maxNewTokens` (tests run in parallel and the consumer may be late).
@Suite("Cancellation and threads", .timeLimit(.minutes(1)))
struct CancellationTests {
    let maxNewTokens = 2500

    func slowModel(_ scripted: inout ScriptedModel?) throws -> LoadedModel {
        let tokenizer = try Fixtures.rinnaTokenizer()
        let model = LoadedModel.scripted(Array(repeating: 500, count: 5), tokenizer: tokenizer, preset: try Fixtures.preset("rinna-3.6b"),
                                         contextLength: 4000, eos: [], delay: .milliseconds(4))
        scripted = model.model as? ScriptedModel
        return model
    }

    @Test("cancelling the consuming task stops within a few tokens; the sample reports .cancelled and the summary still arrives")
    func taskCancellation() async throws {
        var scripted: ScriptedModel?
        let generator = TextGenerator(model: try slowModel(&scripted))
        let stream = try generator.generate(prompt: "a", parameters: greedy(maxNewTokens: maxNewTokens))
        let task = Task { () throws -> GenerationSummary? in
            var summary: GenerationSummary?
            for try await event in stream {
                switch event {
                case .text: withUnsafeCurrentTask { $0?.cancel() }
                case .finished(let result): summary = result
                case .sampleFinished: break
                }
            }
            return summary
        }
        let summary = try #require(try await task.value)
        #expect(summary.stopReason == .cancelled)
        #expect(summary.samples[0].tokens.count < maxNewTokens)
    }

    @Test("stream.cancel() stops every sample of the batch mid-way")
    func explicitCancelBatched() async throws {
        var scripted: ScriptedModel?
        let generator = TextGenerator(model: try slowModel(&scripted))
        let stream = try generator.generate(prompt: "a", parameters: GenerationParameters(
            doSample: true, maxNewTokens: maxNewTokens, numReturnSequences: 3, seed: 1))
        var summary: GenerationSummary?
        for try await event in stream {
            if case .text = event { stream.cancel() }
            if case .finished(let result) = event { summary = result }
        }
        let samples = try #require(summary).samples
        #expect(samples.map(\.stopReason) == [.cancelled, .cancelled, .cancelled])
        #expect(samples.allSatisfy { $0.tokens.count < maxNewTokens })
    }

    @Test("with one sample at a time, stream.cancel() reports the later samples cancelled without tokens")
    func explicitCancel() async throws {
        var scripted: ScriptedModel?
        let generator = TextGenerator(model: try slowModel(&scripted), requestBatch: 1)
        let stream = try generator.generate(prompt: "a", parameters: GenerationParameters(
            doSample: true, maxNewTokens: maxNewTokens, numReturnSequences: 3, seed: 1))
        var summary: GenerationSummary?
        for try await event in stream {
            if case .text = event { stream.cancel() }
            if case .finished(let result) = event { summary = result }
        }
        let samples = try #require(summary).samples
        #expect(samples.map(\.stopReason) == [.cancelled, .cancelled, .cancelled])
        #expect(samples[1].tokens.isEmpty && samples[2].tokens.isEmpty)
    }

    @Test("leaving the loop early stops the model")
    func breakingOut() async throws {
        var scripted: ScriptedModel?
        let generator = TextGenerator(model: try slowModel(&scripted))
        for try await event in try generator.generate(prompt: "a", parameters: greedy(maxNewTokens: maxNewTokens)) {
            if case .text = event { break }
        }
        try await Task.sleep(for: .milliseconds(100))
        let settled = try #require(scripted).calls.withLock { $0.count }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try #require(scripted).calls.withLock { $0.count } == settled)
        #expect(settled < maxNewTokens)
    }

    @Test("the model runs on a dedicated thread, not on the Swift concurrency pool")
    func dedicatedThread() async throws {
        var scripted: ScriptedModel?
        let generator = TextGenerator(model: try slowModel(&scripted))
        _ = try await generator.generate(prompt: "a", parameters: greedy(maxNewTokens: 3)).collect()
        let threads = try #require(scripted).calls.withLock { $0.threads }
        #expect(threads == [GenerationStream.threadName])
    }
}

@Suite("Prompts longer than the context", .timeLimit(.minutes(1)))
struct ContextOverflowTests {
    let longPrompt = String(repeating: "吾輩は猫である。", count: 40)

    @Test("are refused by default, with the numbers")
    func refused() throws {
        let model = try Fixtures.calm()
        let generator = TextGenerator(model: model)
        let count = generator.encode(longPrompt).count
        #expect(count > 128)
        #expect(throws: TextGenerationError.promptTooLong(promptTokens: count, maxNewTokens: 20, contextLength: 128)) {
            try generator.prepare(.text(longPrompt), parameters: greedy(maxNewTokens: 20))
        }
        let message = TextGenerationError.promptTooLong(promptTokens: count, maxNewTokens: 20, contextLength: 128).description
        #expect(message.contains("\(count) tokens") && message.contains("128") && message.contains("at most 108"))
    }

    @Test("with .truncateLeft keep the newest tokens and still generate")
    func truncated() async throws {
        let generator = TextGenerator(model: try Fixtures.calm())
        let full = generator.encode(longPrompt)
        let prepared = try generator.prepare(.text(longPrompt), parameters: greedy(maxNewTokens: 20),
                                             options: GenerationOptions(contextOverflow: .truncateLeft))
        #expect(full.count > 128 && prepared.droppedPromptTokens == full.count + 20 - 128)
        #expect(prepared.promptTokens == Array(full.suffix(108)))
        let summary = try await generator.stream(prepared).collect()
        #expect(summary.samples[0].tokens.count == 20 && summary.droppedPromptTokens == prepared.droppedPromptTokens)
    }

    @Test("a max_new_tokens that fills the context cannot be fixed by truncation")
    func hopeless() throws {
        let generator = TextGenerator(model: try Fixtures.calm())
        #expect(throws: TextGenerationError.promptTooLong(promptTokens: 1, maxNewTokens: 200, contextLength: 128)) {
            try generator.prepare(.tokens([5]), parameters: greedy(maxNewTokens: 200), options: GenerationOptions(contextOverflow: .truncateLeft))
        }
    }

    @Test("a conversation drops whole exchanges first")
    func conversationDropsExchanges() throws {
        let tokenizer = try Fixtures.rinnaTokenizer()
        let model = LoadedModel.scripted([5], tokenizer: tokenizer, preset: try Fixtures.preset("rinna-3.6b-sft-v2"), contextLength: 64)
        let generator = TextGenerator(model: model)
        var conversation = Conversation()
        for i in 0..<4 {
            conversation = conversation.appending(.user, "質問\(i)は長い文章です。吾輩は猫である。").appending(.assistant, "答え\(i)です。")
        }
        conversation = conversation.appending(.user, "最後の質問")
        #expect(throws: TextGenerationError.self) { try generator.prepare(.conversation(conversation), parameters: greedy(maxNewTokens: 8)) }
        let prepared = try generator.prepare(.conversation(conversation), parameters: greedy(maxNewTokens: 8),
                                             options: GenerationOptions(contextOverflow: .truncateLeft))
        #expect(prepared.droppedTurns > 0 && prepared.droppedTurns % 2 == 0)
        #expect(prepared.droppedPromptTokens == 0)
        #expect(prepared.promptText?.hasPrefix("ユーザー: 質問") == true)
        #expect(prepared.promptText?.hasSuffix("ユーザー: 最後の質問<NL>システム: ") == true)
        #expect(prepared.promptTokens.count + 8 <= 64)
    }
}

@Suite("Requests that cannot run", .timeLimit(.minutes(1)))
struct RequestErrorTests {
    @Test("an empty prompt, a bad setting and an unknown token id are typed errors")
    func errors() throws {
        let generator = TextGenerator(model: try Fixtures.calm())
        #expect(throws: TextGenerationError.emptyPrompt) { try generator.prepare(.text("")) }
        #expect(throws: TextGenerationError.emptyPrompt) { try generator.prepare(.tokens([])) }
        #expect(throws: TextGenerationError.tokenOutOfRange(token: 99_999, vocabularySize: 1805)) {
            try generator.prepare(.tokens([1, 99_999]))
        }
        do {
            _ = try generator.prepare(.text("a"), parameters: GenerationParameters(doSample: true, temperature: -1))
            Issue.record("a negative temperature was accepted")
        } catch {
            guard case .parameters = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.description.contains("temperature"))
        }
    }

    @Test("a setting the caller gives outside its domain is refused even for greedy decoding, which would not use it")
    func outOfDomainWhileGreedy() throws {
        let generator = TextGenerator(model: try Fixtures.calm())
        #expect(throws: TextGenerationError.parameters(.invalid(name: "top_p", value: "1.5", reason: "must be between 0 and 1"))) {
            try generator.prepare(.text("a"), parameters: GenerationParameters(doSample: false, topP: 1.5, maxNewTokens: 2))
        }
    }
}
