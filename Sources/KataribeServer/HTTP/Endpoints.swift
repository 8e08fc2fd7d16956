import Foundation
import Hummingbird
import KataribeApp
import KataribeGeneration
import KataribeModels
import NIOCore

/// The handlers of `/v1/models`, `/v1/completions` and `/v1/chat/completions`.
struct Endpoints: Sendable {
    let modelID: String
    let created: Int
    let planner: RequestPlanner
    let runner: GenerationRunner
    let scheduler: GenerationScheduler
    let maxBodyBytes: Int

    var modelCard: ModelCard { ModelCard(id: modelID, created: created) }

    func models() -> Response { .json(ModelList(data: [modelCard])) }

    func model(_ id: String) throws(APIError) -> Response {
        guard id == modelID else { throw .modelNotFound(id) }
        return .json(modelCard)
    }

    // MARK: /v1/completions

    func completions(_ request: Request) async throws -> Response {
        var request = request
        let body = try await JSONCoding.decodeRequest(CompletionRequest.self, from: readBody(&request))
        if body.suffix != nil { throw APIError.invalidRequest("suffix is not supported", param: "suffix") }
        if let bestOf = body.bestOf, bestOf != (body.sampling.n ?? 1) {
            throw APIError.invalidRequest("best_of is not supported (other than best_of = n)", param: "best_of")
        }
        if let k = body.logprobs, !(0...5).contains(k) {
            throw APIError.invalidRequest("logprobs must be between 0 and 5", param: "logprobs")
        }
        if body.promptLogprobs != nil {
            throw APIError.invalidRequest("prompt_logprobs is not supported; use echo: true with logprobs", param: "prompt_logprobs")
        }
        let inputs = body.prompt.inputs
        let greedyCopies = (body.sampling.temperature.map { $0 < ResolvedGenerationParameters.greedyTemperature } ?? false)
            && (body.sampling.n ?? 1) > 1
        if inputs.count > 1 || body.echo || (greedyCopies && !body.sampling.stream) {
            return try await completionsWithEcho(request, body: body, inputs: inputs)
        }
        let input = inputs[0]
        // A completion continues the prompt as given, whatever chat format the model was tuned on.
        let prepared = try planner.prepare(input, sampling: body.sampling, format: .plain, promptParam: "prompt")
        let reservation = try reserve()
        let id = "cmpl-" + Self.randomID()
        let created = Int(Date().timeIntervalSince1970)
        let logprobs = body.logprobs
        let modelID = self.modelID, seed = prepared.seed
        let chunk: @Sendable ([CompletionChoice], Usage?) -> CompletionBody = { choices, usage in
            CompletionBody(id: id, created: created, model: modelID, choices: choices, usage: usage, seed: seed)
        }

        if body.sampling.stream {
            let includeUsage = body.sampling.includeUsage
            return streaming(request, reservation: reservation) { writer in
                let result = try await runner.run(prepared, reservation: reservation, logprobs: logprobs) { event in
                    switch event {
                    case .text(let text, let index):
                        try await writer.write(ServerSentEvents.event(chunk([CompletionChoice(text: text, index: index)], nil)))
                    case .choiceFinished(let choice):
                        try await writer.write(ServerSentEvents.event(chunk([CompletionChoice(
                            text: "", index: choice.index, logprobs: choice.logprobs.map(CompletionLogprobs.init),
                            finishReason: choice.finishReason)], nil)))
                    }
                }
                if includeUsage { try await writer.write(ServerSentEvents.event(chunk([], result.usage))) }
            }
        }

        let result = try await watchingForDisconnect(request) {
            try await runner.run(prepared, reservation: reservation, logprobs: logprobs) { _ in }
        }
        let choices = result.choices.map {
            CompletionChoice(text: $0.text, index: $0.index, logprobs: $0.logprobs.map(CompletionLogprobs.init),
                             finishReason: $0.finishReason)
        }
        return .closingConnection(.json(chunk(choices, result.usage)))
    }

    /// Several prompts, or `echo`: lm-evaluation-harness's log-likelihood requests. Each prompt is
    /// generated as a request of its own (all in the engine's batch at once) under one turn of the
    /// scheduler; choices are numbered prompt by prompt (prompt i, sample j → i·n + j), as OpenAI
    /// does. With `echo` a choice's text is the prompt followed by the completion, and its
    /// log-probabilities list the prompt's tokens first; `max_tokens: 0` returns the prompt alone.
    private func completionsWithEcho(_ request: Request, body: CompletionRequest, inputs: [PromptInput]) async throws -> Response {
        if body.sampling.stream {
            throw APIError.invalidRequest(body.echo ? "echo is not supported with stream: true"
                                          : "several prompts are not supported with stream: true", param: body.echo ? "echo" : "prompt")
        }
        guard inputs.count <= Self.maxPrompts else {
            throw APIError.invalidRequest("got \(inputs.count) prompts; at most \(Self.maxPrompts) per request", param: "prompt")
        }
        let promptOnly = body.echo && body.sampling.maxTokens == 0
        var sampling = body.sampling
        if promptOnly { sampling.maxTokens = 1 }  // prepared for the prompt's checks; nothing is generated
        // OpenAI and vLLM answer n > 1 at temperature 0 with n copies of the greedy reply.
        let greedyCopies = (sampling.temperature.map { $0 < ResolvedGenerationParameters.greedyTemperature } ?? false)
            ? max(1, sampling.n ?? 1) : 1
        if greedyCopies > 1 { sampling.n = 1 }
        var prepared: [PreparedGeneration] = []
        for input in inputs {
            prepared.append(try planner.prepare(input, sampling: sampling, format: .plain, promptParam: "prompt"))
        }
        let reservation = try reserve()
        let model = runner.generator.model, top = body.logprobs, echo = body.echo
        let generator = runner.generator
        let outcome = try await watchingForDisconnect(request) { () async throws -> (choices: [CompletionChoice], usage: Usage) in
            do { try await reservation.waitForTurn() } catch {
                reservation.release(.cancelled)
                throw error
            }
            var completed = false
            defer { reservation.release(completed ? .completed : Task.isCancelled ? .cancelled : .failed) }
            let summaries = try await withThrowingTaskGroup(of: (Int, GenerationSummary?).self) { group in
                for (index, item) in prepared.enumerated() {
                    group.addTask {
                        if promptOnly { return (index, nil) }
                        do { return (index, try await generator.stream(item).collect()) } catch let error as TextGenerationError {
                            throw RequestPlanner.describe(error, promptParam: "prompt")
                        }
                    }
                }
                var out = [GenerationSummary?](repeating: nil, count: prepared.count)
                for try await (index, summary) in group { out[index] = summary }
                return out
            }
            var choices: [CompletionChoice] = [], usage = Usage(promptTokens: 0, completionTokens: 0)
            for (index, item) in prepared.enumerated() {
                let promptText: String
                switch item.input {
                case .text(let text): promptText = text
                default: promptText = model.tokenizer.decode(item.promptTokens, skipSpecialTokens: false)
                }
                let samples = summaries[index]?.samples ?? [GeneratedSample(index: 0, seed: item.seed, tokens: [], text: "", rawText: "",
                                                                            stopReason: .length, stopString: nil, seconds: 0)]
                usage.promptTokens += item.promptTokens.count
                for sample in samples {
                    if sample.stopReason == .cancelled { throw CancellationError() }
                    var logprobs: CompletionLogprobs?
                    if let top {
                        if echo {
                            let scored = try await Self.onThread { () throws(ModelError) in
                                try EchoLogprobs.score(model: model, prompt: item.promptTokens, generated: sample.tokens, top: top)
                            }
                            logprobs = CompletionLogprobs(echo: scored)
                        } else if !sample.tokens.isEmpty {
                            let scored = try await Self.onThread { () throws(ModelError) in
                                try LogprobScorer.score(model: model, prompt: item.promptTokens, generated: sample.tokens, top: top)
                            }
                            logprobs = CompletionLogprobs(scored)
                        }
                    }
                    for copy in 0..<greedyCopies {
                        choices.append(CompletionChoice(
                            text: (echo ? promptText : "") + sample.text, index: choices.count, logprobs: logprobs,
                            finishReason: promptOnly || sample.stopReason == .length ? "length" : "stop"))
                        if !promptOnly { usage.completionTokens += sample.tokens.count }
                    }
                }
            }
            completed = true
            return (choices, usage)
        }
        RequestTokens.current?.add(outcome.usage)
        let id = "cmpl-" + Self.randomID()
        return .closingConnection(.json(CompletionBody(id: id, created: Int(Date().timeIntervalSince1970), model: modelID,
                                                       choices: outcome.choices, usage: outcome.usage, seed: prepared[0].seed)))
    }

    /// Prompts one completion request may carry.
    static let maxPrompts = 256

    /// Scoring is a forward pass: it runs on a thread of its own, never on the threads that serve HTTP.
    private static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws(ModelError) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                do { continuation.resume(returning: try work()) } catch {
                    continuation.resume(throwing: APIError.server("scoring the prompt failed: \(error)"))
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    // MARK: /v1/chat/completions

    func chatCompletions(_ request: Request) async throws -> Response {
        var request = request
        let body = try await JSONCoding.decodeRequest(ChatCompletionRequest.self, from: readBody(&request))
        if body.hasTools { throw APIError.invalidRequest("tools are not supported", param: "tools") }
        if let k = body.topLogprobs {
            guard (0...20).contains(k) else { throw APIError.invalidRequest("top_logprobs must be between 0 and 20", param: "top_logprobs") }
            guard body.logprobs else { throw APIError.invalidRequest("top_logprobs needs logprobs: true", param: "top_logprobs") }
        }
        let conversation = try ChatMessages.conversation(from: body.messages)
        let prepared = try planner.prepare(.conversation(conversation), sampling: body.sampling, format: nil, promptParam: "messages")
        let reservation = try reserve()
        let id = "chatcmpl-" + Self.randomID()
        let created = Int(Date().timeIntervalSince1970)
        let logprobs = body.logprobs ? (body.topLogprobs ?? 0) : nil
        let modelID = self.modelID, seed = prepared.seed
        let chunk: @Sendable ([ChatChunkChoice], Usage?) -> ChatCompletionChunk = { choices, usage in
            ChatCompletionChunk(id: id, created: created, model: modelID, choices: choices, usage: usage, seed: seed)
        }

        if body.sampling.stream {
            let includeUsage = body.sampling.includeUsage
            return streaming(request, reservation: reservation) { writer in
                var started = Set<Int>()
                // OpenAI opens each choice with a chunk that carries only the role.
                func start(_ index: Int, writer: inout any ResponseBodyWriter) async throws {
                    guard started.insert(index).inserted else { return }
                    try await writer.write(ServerSentEvents.event(chunk([ChatChunkChoice(
                        index: index, delta: .init(role: "assistant", content: ""))], nil)))
                }
                let result = try await runner.run(prepared, reservation: reservation, logprobs: logprobs) { event in
                    switch event {
                    case .text(let text, let index):
                        try await start(index, writer: &writer)
                        try await writer.write(ServerSentEvents.event(chunk([ChatChunkChoice(
                            index: index, delta: .init(content: text))], nil)))
                    case .choiceFinished(let choice):
                        try await start(choice.index, writer: &writer)
                        try await writer.write(ServerSentEvents.event(chunk([ChatChunkChoice(
                            index: choice.index, delta: .init(), logprobs: choice.logprobs.map(ChatLogprobs.init),
                            finishReason: choice.finishReason)], nil)))
                    }
                }
                if includeUsage { try await writer.write(ServerSentEvents.event(chunk([], result.usage))) }
            }
        }

        let result = try await watchingForDisconnect(request) {
            try await runner.run(prepared, reservation: reservation, logprobs: logprobs) { _ in }
        }
        let choices = result.choices.map {
            ChatChoice(index: $0.index, message: ChatReply(content: $0.text),
                       logprobs: $0.logprobs.map(ChatLogprobs.init), finishReason: $0.finishReason)
        }
        return .closingConnection(.json(ChatCompletionBody(id: id, created: created, model: modelID, choices: choices,
                                                           usage: result.usage, seed: result.seed)))
    }

    // MARK: Helpers

    /// The body, refused with 413 past `maxBodyBytes` (by its Content-Length when it has one, before
    /// reading anything).
    func readBody(_ request: inout Request) async throws(APIError) -> Data {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes {
            throw .bodyTooLarge(limit: maxBodyBytes)
        }
        do {
            let buffer = try await request.collectBody(upTo: maxBodyBytes)
            return Data(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw .bodyTooLarge(limit: maxBodyBytes)
        } catch {
            throw .invalidRequest("could not read the request body: \(error)")
        }
    }

    private func reserve() throws(APIError) -> Reservation {
        guard let reservation = scheduler.reserve() else { throw .queueFull(limit: scheduler.maxQueue) }
        return reservation
    }

    /// Runs `operation`, cancelling it when the client closes the connection (so a client that gives
    /// up frees the model at once, even while its request is still waiting in the queue).
    ///
    /// Watching the connection consumes its input, so it cannot carry another request afterwards:
    /// responses made this way say `Connection: close` (`Response.closingConnection`).
    private func watchingForDisconnect<T: Sendable>(_ request: Request, _ operation: () async throws -> T) async throws -> T {
        try await request.body.consumeWithCancellationOnInboundClose { _ in try await operation() }
    }

    /// An SSE response whose events `produce` writes; `data: [DONE]` follows them. The generation is
    /// cancelled when the client closes the connection. A failure after the response has started is
    /// sent as an `{"error": …}` event, as OpenAI does.
    private func streaming(_ request: Request, reservation: Reservation,
                           produce: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) -> Response {
        var headers = ServerSentEvents.headers
        headers[.connection] = "close"
        let tokens = RequestTokens.current  // the body is written after the handler (and its task-local value) returned
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { reservation.release() }  // in case the writer fails before the run starts
            do {
                try await RequestTokens.$current.withValue(tokens) {
                    try await watchingForDisconnect(request) {
                        try await produce(&writer)
                    }
                }
            } catch let error as APIError {
                try await writer.write(ServerSentEvents.event(error.body))
            } catch {
                return  // the client went away: nobody to write to
            }
            try await writer.write(ServerSentEvents.done)
            try await writer.finish(nil)
        })
    }

    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<3).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
    }
}
