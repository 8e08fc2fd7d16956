import Foundation
import Hummingbird
import KataribeApp
import KataribeGeneration
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
        if body.echo { throw APIError.invalidRequest("echo is not supported", param: "echo") }
        if body.suffix != nil { throw APIError.invalidRequest("suffix is not supported", param: "suffix") }
        if let bestOf = body.bestOf, bestOf != (body.sampling.n ?? 1) {
            throw APIError.invalidRequest("best_of is not supported (other than best_of = n)", param: "best_of")
        }
        if let k = body.logprobs, !(0...5).contains(k) {
            throw APIError.invalidRequest("logprobs must be between 0 and 5", param: "logprobs")
        }
        let input: PromptInput
        switch body.prompt {
        case .text(let text): input = .text(text)
        case .tokens(let ids): input = .tokens(ids)
        case .batch(let count):
            throw APIError.invalidRequest("got \(count) prompts; this server takes one prompt per request", param: "prompt")
        }
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
    private func readBody(_ request: inout Request) async throws(APIError) -> Data {
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
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { reservation.release() }  // in case the writer fails before the run starts
            do {
                try await watchingForDisconnect(request) {
                    try await produce(&writer)
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
