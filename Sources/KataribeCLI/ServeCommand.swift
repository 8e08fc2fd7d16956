import ArgumentParser
import Foundation
import KataribeApp
import KataribeGeneration
import KataribeServer

/// `kataribe serve --model M`: an OpenAI-compatible HTTP API over one loaded model.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions).",
        discussion: """
        Endpoints: GET /v1/models, POST /v1/completions, POST /v1/chat/completions (JSON, or server-sent \
        events with "stream": true), GET /health. Chat messages are rendered in the model's prompt format \
        (rinna chat for rinna instruction models); completions continue the prompt as given. Request \
        fields override the model's preset defaults (`kataribe models` shows them); extensions: top_k, \
        repetition_penalty, min_tokens.

        Up to --parallel requests generate at once, batched: every forward step advances all of them \
        while reading the weights once, a request joins at the next step and leaves when it is done, \
        and batching never changes a reply (the same seed gives the same text alone or beside others). \
        Up to --max-queue more requests wait, more get 429. GET /health and GET /metrics (Prometheus \
        text) show the slots in use and the queue. Binds to \
        127.0.0.1 unless --host says otherwise; with --api-key-env, requests must send \
        'Authorization: Bearer <key>' (every path but /health). Ctrl-C stops the server after the \
        requests in progress (at most --shutdown-timeout). Each request is logged on stderr as one line         (method, path, status, duration, tokens) once its response is sent; --quiet turns that off.

        Slow or idle clients cannot hold the server: a connection that sends nothing for --idle-timeout, \
        takes longer than --header-timeout over a request head or --body-timeout over a body is closed, \
        and beyond --max-connections new connections wait until one closes.
        """)

    @OptionGroup var modelArguments: ModelArguments

    @Option(name: .long, help: "Prompt format for chat; template is the model's own (default: the preset's).")
    var format: PromptFormat?

    @Option(name: .long, help: "Address to listen on (default 127.0.0.1: this machine only).")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on (0 picks a free one, printed at start).")
    var port = 8080

    @Option(name: .long, help: ArgumentHelp("Require 'Authorization: Bearer <key>' with the key taken from this environment variable.",
                                            valueName: "VAR"))
    var apiKeyEnv: String?

    @Option(name: .long, help: ArgumentHelp(
        "Requests (or choices of one request) generated together in one batch.",
        discussion: "More raises the total tokens per second while each reply comes a little slower; 1 gives one client the lowest latency."))
    var parallel = 4

    @Option(name: .long, help: "Requests that may wait while --parallel others generate; more get 429.")
    var maxQueue = 16

    @Option(name: .long, help: "Largest request body in bytes; larger ones get 413.")
    var maxBodyBytes = 1 << 20

    @Option(name: .long, help: "Largest max_tokens a request may ask for (default: the model's context length).")
    var maxTokens: Int?

    @Option(name: .long, help: "Largest n (choices per request).")
    var maxChoices = 8

    @Option(name: .long, help: "The model id clients see (default: the --model value).")
    var servedModelName: String?

    // Defaults: 5 s is uvicorn's keep-alive timeout, long enough for a client's next request and
    // short enough that idle connections do not pile up. A request head is a few hundred bytes, so
    // 10 s only cuts off deliberate trickling. A body is at most --max-body-bytes (1 MiB by default):
    // 30 s still allows about 35 KiB/s. 256 connections is far more than one model can serve at a time
    // (generations queue anyway) and matches the listen backlog.
    @Option(name: .long, help: ArgumentHelp("Close a connection that sends nothing for this long, when opened or after a response.",
                                            valueName: "seconds"))
    var idleTimeout = 5.0

    @Option(name: .long, help: ArgumentHelp("Close a connection whose request head is not complete this long after its first byte.",
                                            valueName: "seconds"))
    var headerTimeout = 10.0

    @Option(name: .long, help: ArgumentHelp("Close a connection whose request body is not complete this long after its head.",
                                            valueName: "seconds"))
    var bodyTimeout = 30.0

    @Option(name: .long, help: "Open connections at most; more wait until one closes.")
    var maxConnections = 256

    // gunicorn's graceful timeout: a long generation may still finish, a stuck one does not hold Ctrl-C.
    @Option(name: .long, help: ArgumentHelp("On Ctrl-C, how long responses in progress may take before they are cut off.",
                                            valueName: "seconds"))
    var shutdownTimeout = 30.0

    @Flag(name: .long, help: "Do not log a line per request (method, path, status, duration, tokens) on stderr.")
    var quiet = false

    // Makes a tiny model's replies last long enough to watch (demos, tests).
    @Option(name: .long, help: .hidden)
    var paceMilliseconds: Int?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        if maxQueue < 0 { throw ValidationError("--max-queue must not be negative") }
        guard (1...256).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 256") }
        if maxBodyBytes < 1 { throw ValidationError("--max-body-bytes must be at least 1") }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if maxChoices < 1 { throw ValidationError("--max-choices must be at least 1") }
        for (name, value) in [("--idle-timeout", idleTimeout), ("--header-timeout", headerTimeout),
                              ("--body-timeout", bodyTimeout), ("--shutdown-timeout", shutdownTimeout)]
        where !(value > 0 && value <= 86_400) {
            throw ValidationError("\(name) must be a number of seconds above 0 (at most a day)")
        }
        if maxConnections < 1 { throw ValidationError("--max-connections must be at least 1") }
    }

    func run() async throws {
        var apiKey: String?
        if let apiKeyEnv {
            guard let key = ProcessInfo.processInfo.environment[apiKeyEnv], !key.isEmpty else {
                CLIOutput.fail("--api-key-env \(apiKeyEnv): the environment variable \(apiKeyEnv) is not set or empty")
            }
            apiKey = key
        }
        let loaded = await modelArguments.load(format: format)
        let server = OpenAIServer(model: loaded, configuration: ServerConfiguration(
            host: host, port: port, apiKey: apiKey, maxQueue: maxQueue, parallel: parallel, maxBodyBytes: maxBodyBytes,
            maxTokens: maxTokens, maxChoices: maxChoices, modelID: servedModelName,
            tokenPacing: paceMilliseconds.map { .milliseconds($0) }, logRequests: !quiet,
            idleTimeout: .seconds(idleTimeout), headerTimeout: .seconds(headerTimeout), bodyTimeout: .seconds(bodyTimeout),
            maxConnections: maxConnections, shutdownTimeout: .seconds(shutdownTimeout)))
        if apiKey == nil && !Self.isLoopback(host) {
            Terminal.err("warning: listening on \(host) without an API key; anyone who can reach it can use the model (--api-key-env)\n")
        }
        let host = self.host
        do {
            try await server.run(handleSignals: true) { port in
                let shown = host.contains(":") ? "[\(host)]" : host
                let batching = server.configuration.parallel > 1 ? ", \(server.configuration.parallel) requests at once" : ""
                Terminal.err("serving \(server.modelID) (\(loaded.preset.promptFormat.name) format\(batching)) on http://\(shown):\(port)/v1\n")
            }
        } catch {
            CLIOutput.fail("cannot serve on \(host):\(port): \(error)")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
