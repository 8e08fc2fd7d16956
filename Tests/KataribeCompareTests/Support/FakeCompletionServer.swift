import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A loopback OpenAI-style completions server (127.0.0.1, ephemeral port) that records each request
/// and answers from a script: canned completions, an HTTP error, or a body that is not JSON.
final class FakeCompletionServer: Sendable {
    struct Request: Sendable {
        let method: String
        let uri: String
        let headers: [String: String]
        let body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    enum Behavior: Sendable {
        /// 200 with a completion whose text is derived from the request (prompt, seed).
        case complete(finishReason: String = "length", stopReason: String? = nil)
        case status(Int, body: String)
        case body(String)
    }

    /// Requests received and not yet answered; replies wait while `held`.
    private struct Waiting {
        var count = 0
        var peak = 0
        var holdUntil: (count: Int, deadline: NIODeadline)?

        /// Replies are held until `count` requests have waited at once, or the deadline passed; then
        /// every reply goes out at once, now and later.
        mutating func held() -> Bool {
            guard let hold = holdUntil else { return false }
            if peak >= hold.count || NIODeadline.now() >= hold.deadline { holdUntil = nil }
            return holdUntil != nil
        }
    }

    private let requestsBox = NIOLockedValueBox<[Request]>([])
    private let behaviorBox = NIOLockedValueBox<Behavior>(.complete())
    private let channelBox = NIOLockedValueBox<(any Channel)?>(nil)
    private let waitingBox = NIOLockedValueBox(Waiting())

    var requests: [Request] { requestsBox.withLockedValue { $0 } }
    var baseURL: String { "http://127.0.0.1:\(channelBox.withLockedValue { $0?.localAddress?.port ?? 0 })" }
    /// The most requests that were waiting for their replies at the same moment.
    var peakWaiting: Int { waitingBox.withLockedValue { $0.peak } }

    func setBehavior(_ behavior: Behavior) { behaviorBox.withLockedValue { $0 = behavior } }

    /// Holds every reply until `count` requests are waiting at once (or `timeout` passed), to show
    /// that a client really has that many in flight.
    func holdReplies(untilWaiting count: Int, timeout: TimeAmount) {
        waitingBox.withLockedValue { $0.holdUntil = (count, .now() + timeout) }
    }

    fileprivate func arrived() {
        waitingBox.withLockedValue {
            $0.count += 1
            $0.peak = max($0.peak, $0.count)
        }
    }

    fileprivate func answered() { waitingBox.withLockedValue { $0.count -= 1 } }
    fileprivate var repliesHeld: Bool { waitingBox.withLockedValue { $0.held() } }

    static func start() async throws -> FakeCompletionServer {
        let server = FakeCompletionServer()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(Handler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        server.channelBox.withLockedValue { $0 = channel }
        return server
    }

    func stop() async {
        try? await channelBox.withLockedValue { $0 }?.close()
    }

    /// A port nothing listens on (bound, then closed).
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 1
        try await channel.close()
        return port
    }

    fileprivate func reply(to request: Request) -> (status: Int, body: String) {
        requestsBox.withLockedValue { $0.append(request) }
        switch behaviorBox.withLockedValue({ $0 }) {
        case let .complete(finishReason, stopReason):
            let json = request.json
            let text = "返答(\(json["seed"] ?? "nil")): \(json["prompt"] ?? "")"
            var choice: [String: Any] = ["index": 0, "text": text, "finish_reason": finishReason, "logprobs": NSNull()]
            choice["stop_reason"] = stopReason ?? NSNull()
            let body: [String: Any] = [
                "id": "cmpl-1", "object": "text_completion", "model": json["model"] ?? "",
                "choices": [choice], "usage": ["prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12],
            ]
            let data = (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
            return (200, String(decoding: data, as: UTF8.self))
        case let .status(status, body):
            return (status, body)
        case .body(let body):
            return (200, body)
        }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let server: FakeCompletionServer
        var head: HTTPRequestHead?
        var body = Data()

        init(server: FakeCompletionServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = Data()
            case .body(var buffer):
                body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
            case .end:
                guard let head else { return }
                let headers = Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
                let reply = server.reply(to: Request(method: "\(head.method)", uri: head.uri, headers: headers, body: body))
                server.arrived()
                self.head = nil
                whenReleased(context) {
                    // Counted out before the reply leaves, so a request the client sends in return
                    // never meets this one still counted.
                    self.server.answered()
                    self.respond(reply, version: head.version, context: context)
                }
            }
        }

        private func whenReleased(_ context: ChannelHandlerContext, _ body: @escaping () -> Void) {
            guard server.repliesHeld else { return body() }
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(5)) { self.whenReleased(context, body) }
        }

        private func respond(_ reply: (status: Int, body: String), version: HTTPVersion, context: ChannelHandlerContext) {
            var responseHeaders = HTTPHeaders([("Content-Type", "application/json")])
            let bytes = ByteBuffer(string: reply.body)
            responseHeaders.add(name: "Content-Length", value: "\(bytes.readableBytes)")
            let responseHead = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: reply.status),
                                                headers: responseHeaders)
            context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
