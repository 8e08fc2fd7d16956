import AsyncHTTPClient
import Foundation
import KataribeApp
import KataribeGeneration
import KataribeServer
import KataribeTestSupport
import NIOCore
import NIOHTTP1
import Synchronization

/// The tiny models of Tests/Fixtures/generation-e2e (tools/fixtures/make_generation_fixtures.py).
enum Fixtures {
    /// The rinna-style model with the instruction (chat) preset.
    static func rinnaChat() throws -> LoadedModel {
        try LoadedModel(folder: TestPaths.fixture("generation-e2e/rinna"), preset: ModelPresetCatalog.preset(named: "rinna-3.6b-sft-v2"),
                        name: "tiny-rinna-chat")
    }

    /// The open-calm-style model (plain continuation).
    static func calm() throws -> LoadedModel {
        try LoadedModel(folder: TestPaths.fixture("generation-e2e/calm"), preset: ModelPresetCatalog.preset(named: "open-calm-small"),
                        name: "tiny-calm")
    }
}

/// A server on an ephemeral loopback port and an HTTP client for it.
struct LiveServer: Sendable {
    let server: OpenAIServer
    let port: Int
    let client: HTTPClient

    var baseURL: String { "http://127.0.0.1:\(port)" }

    struct Reply: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String

        /// The body parsed as a JSON object (empty when it is not one).
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }

        /// `error.<key>` of an OpenAI error body.
        func error(_ key: String) -> String? { (json["error"] as? [String: Any])?[key] as? String }

        /// The JSON payloads of a server-sent-events body, up to `data: [DONE]` (not included).
        var events: [[String: Any]] {
            body.components(separatedBy: "\n\n").compactMap { block -> [String: Any]? in
                guard block.hasPrefix("data: "), block != "data: [DONE]" else { return nil }
                return (try? JSONSerialization.jsonObject(with: Data(block.dropFirst(6).utf8))) as? [String: Any]
            }
        }

        var endsWithDone: Bool { body.hasSuffix("data: [DONE]\n\n") }
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        return try await send(request)
    }

    /// POSTs `body` (a JSON object, or raw text when it is a String).
    func post(_ path: String, _ body: Any, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let data = try (body as? String).map { Data($0.utf8) } ?? JSONSerialization.data(withJSONObject: body)
        request.body = .bytes(ByteBuffer(bytes: data))
        return try await send(request)
    }

    private func send(_ request: HTTPClientRequest) async throws -> Reply {
        let response = try await client.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 64 << 20)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return Reply(status: Int(response.status.code), headers: headers, body: String(buffer: body))
    }
}

/// The test settings every server gets: loopback, a free port, quiet logs, and by default a short
/// wait for responses in progress at shutdown (a test that failed mid-generation should not add 30 s).
func testConfiguration(_ configuration: ServerConfiguration, shutdownTimeout: Duration? = .seconds(5)) -> ServerConfiguration {
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.logLevel = .critical
    if let shutdownTimeout { configuration.shutdownTimeout = shutdownTimeout }
    return configuration
}

/// Runs `body` against a fresh server for `model`; the server stops (gracefully) when `body` returns.
///
/// Not by cancelling its task: a connection accepted in the instant before the serving task is
/// cancelled, before Hummingbird takes it, traps in NIO (apple/swift-nio#2813), and with suites in
/// parallel some client is always connecting somewhere.
func withServer<T: Sendable>(_ model: LoadedModel, configuration: ServerConfiguration = ServerConfiguration(),
                             _ body: (LiveServer) async throws -> T) async throws -> T {
    let configuration = testConfiguration(configuration)
    let server = OpenAIServer(model: model, configuration: configuration)
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    var clientConfiguration = HTTPClient.Configuration()
    // The default pool opens 8 connections per host; concurrency tests need one per request.
    clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run { portContinuation.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(LiveServer(server: server, port: port, client: client)))
        } catch {
            result = .failure(error)
        }
        try? await client.shutdown()
        // Bounded: the server's own shutdown timeout cancels what is still answering.
        await server.shutdownGracefully()
        try await group.waitForAll()
        return try result.get()
    }
}

/// Waits until `condition` holds (polling); false after `seconds`.
func eventually(seconds: Double = 20, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// What `kataribe generate` (TextGenerator) gives for the same settings: the reference the server's
/// answers are checked against.
func expectedTexts(_ model: LoadedModel, _ input: PromptInput, _ parameters: GenerationParameters,
                   format: PromptFormat? = nil) async throws -> [String] {
    var parameters = parameters
    parameters.stopStringHandling = .strip
    let generator = TextGenerator(model: model)
    let prepared = try generator.prepare(input, parameters: parameters, options: GenerationOptions(format: format))
    return try await generator.stream(prepared).collect().samples.map(\.text)
}

extension [String: Any] {
    var choices: [[String: Any]] { self["choices"] as? [[String: Any]] ?? [] }
}

extension LiveServer.Reply {
    /// Concatenated streamed text per choice index (`text` for completions, `delta.content` for chat).
    var streamedTexts: [Int: String] {
        var out: [Int: String] = [:]
        for event in events {
            for choice in event.choices {
                guard let index = choice["index"] as? Int else { continue }
                let piece = (choice["text"] as? String) ?? ((choice["delta"] as? [String: Any])?["content"] as? String) ?? ""
                out[index, default: ""] += piece
            }
        }
        return out
    }
}

/// A streaming request on a client of its own that keeps reading until `drop()` closes its
/// connection: lets tests keep the model busy for as long as they need, then walk away.
final class HeldStream: Sendable {
    private let client: HTTPClient
    private let reader: Task<Void, any Error>
    private let firstChunk: AsyncStream<Void>

    init(_ live: LiveServer, body: String) {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let (firstChunk, signal) = AsyncStream.makeStream(of: Void.self)
        var request = HTTPClientRequest(url: live.baseURL + "/v1/completions")
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        self.client = client
        self.firstChunk = firstChunk
        reader = Task {
            defer { signal.finish() }
            let response = try await client.execute(request, timeout: .seconds(120))
            for try await _ in response.body { signal.yield() }
        }
    }

    /// True once the server has sent its first chunk (the generation is running).
    func started() async -> Bool {
        for await _ in firstChunk { return true }
        return false
    }

    /// Closes the connection mid-stream.
    func drop() async {
        reader.cancel()
        try? await client.shutdown()
        _ = await reader.result
    }
}

/// A one-way switch that polling code can read from any task.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}

/// A test-controlled server run, watched without blocking.
final class ServerRun: Sendable {
    let task: Task<Void, any Error>
    private let returned = Flag()

    init(_ task: Task<Void, any Error>) {
        self.task = task
        Task { [returned] in
            _ = await task.result
            returned.set()
        }
    }

    var hasReturned: Bool { returned.isSet }

    /// Waits (polling) until `run` has returned; false if it has not after `seconds`.
    func waitForReturn(seconds: Double) async -> Bool { await eventually(seconds: seconds) { hasReturned } }
}

/// Like `withServer`, for tests about stopping: `body` sees the run, and stops it with
/// `server.shutdownGracefully()`; at the end the server is stopped if `body` did not. The
/// configuration's shutdown timeout is kept: it is what these tests are about.
func withStoppableServer<T: Sendable>(_ model: LoadedModel, configuration: ServerConfiguration,
                                      _ body: (LiveServer, ServerRun) async throws -> T) async throws -> T {
    let configuration = testConfiguration(configuration, shutdownTimeout: nil)
    let server = OpenAIServer(model: model, configuration: configuration)
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let run = ServerRun(Task { try await server.run { portContinuation.yield($0) } })
    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw CancellationError() }
    let result: Result<T, any Error>
    do {
        result = .success(try await body(LiveServer(server: server, port: port, client: client), run))
    } catch {
        result = .failure(error)
    }
    try? await client.shutdown()
    await server.shutdownGracefully()
    if !(await run.waitForReturn(seconds: 20)) { run.task.cancel() }
    return try result.get()
}
