import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// How long a connection may take over each part of a request, and how long it may sit unused.
struct ConnectionTimeouts: Sendable {
    /// No bytes at all since the connection opened or the previous response ended.
    var idle: TimeAmount
    /// From the first byte of a request to the end of its head.
    var header: TimeAmount
    /// From the end of the head to the end of the body, however steadily the bytes come.
    var body: TimeAmount
}

/// Closes a connection that holds the server without making progress: idle between requests, a
/// request head or body that arrives too slowly, or any of those while the server shuts down.
///
/// Hummingbird's own `idleTimeout` is not enough: every decoded part resets its timer, so a client
/// that sends one body byte every few seconds keeps a connection (and its task) forever, and
/// graceful shutdown waits for it. Here each phase has a fixed deadline, set when the phase starts
/// and not moved by the bytes that arrive during it.
///
/// It sits after the HTTP codec, so it sees decoded request parts and the response parts written.
/// Telling an idle connection from one that has sent half a head needs the raw bytes too, before the
/// decoder, which buffers partial heads silently: `handlerAdded` puts a `ByteArrivalHandler` at the
/// front of the pipeline that reports to this handler. Both run on the channel's event loop, so the
/// state needs no locking.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Inbound {
        /// Waiting for a request head: since when, and when its first byte came (nil: none yet).
        case awaitingHead(since: NIODeadline, firstByte: NIODeadline?)
        /// The head has come (at `since`); its body has not ended.
        case readingBody(since: NIODeadline)
    }

    private enum Phase: String {
        case idle = "idle keep-alive"
        case header = "request head"
        case body = "request body"
    }

    private let timeouts: ConnectionTimeouts
    private let logger: Logger
    private var inbound: Inbound
    /// Request heads read minus responses finished: above zero the server is answering, and the
    /// client's silence is expected (a generation can take minutes without writing a byte).
    private var responsesOwed = 0
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var armedDeadline: NIODeadline?

    init(timeouts: ConnectionTimeouts, logger: Logger) {
        self.timeouts = timeouts
        self.logger = logger
        self.inbound = .awaitingHead(since: .now(), firstByte: nil)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        do {
            try context.pipeline.syncOperations.addHandler(ByteArrivalHandler(owner: self), position: .first)
        } catch {
            // Without the byte watcher a half-sent head looks idle: still bounded (by the idle
            // timeout), so carry on rather than refuse the connection.
            logger.debug("cannot watch raw bytes: \(error)")
        }
        if context.channel.isActive { connectionStarted() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        connectionStarted()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    private func connectionStarted() {
        inbound = .awaitingHead(since: .now(), firstByte: nil)
        rearm()
    }

    // MARK: Traffic

    /// Called by `ByteArrivalHandler` before the decoder sees the bytes.
    fileprivate func bytesArrived() {
        guard case .awaitingHead(let since, nil) = inbound else { return }
        inbound = .awaitingHead(since: since, firstByte: .now())
        rearm()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            responsesOwed += 1
            inbound = .readingBody(since: .now())
            rearm()
        case .body:
            break  // progress, but not enough: the body's deadline was fixed when its head came
        case .end:
            inbound = .awaitingHead(since: .now(), firstByte: nil)
            rearm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            // A parse error is answered with no head read, hence the floor.
            responsesOwed = max(0, responsesOwed - 1)
            // The keep-alive wait starts when the answer is done, not when the request was read.
            if responsesOwed == 0, case .awaitingHead(_, let firstByte) = inbound {
                inbound = .awaitingHead(since: .now(), firstByte: firstByte)
            }
            rearm()
        }
        context.write(data, promise: promise)
    }

    // MARK: Shutdown

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !isAnswering {
            // Hummingbird's own handler (further on) would keep a connection whose body is still
            // coming, and graceful shutdown would wait for it as long as the client likes.
            logger.debug("closing connection at shutdown", metadata: ["peer": "\(context.channel.remoteAddress?.description ?? "?")"])
            context.close(promise: nil)
        }
        // Passed on either way: for an answer in progress it tells Hummingbird to close once it is sent.
        context.fireUserInboundEventTriggered(event)
    }

    /// The request is read and its response not finished: the one state worth waiting for.
    private var isAnswering: Bool {
        if case .awaitingHead = inbound { return responsesOwed > 0 }
        return false
    }

    // MARK: Deadlines

    private var deadline: (NIODeadline, Phase)? {
        switch inbound {
        case .readingBody(let since):
            return (since + timeouts.body, .body)
        case .awaitingHead(let since, let firstByte):
            if responsesOwed > 0 { return nil }
            // A head whose first byte came while the previous answer was still being written gets
            // its full time from the end of that answer.
            if let firstByte { return (max(since, firstByte) + timeouts.header, .header) }
            return (since + timeouts.idle, .idle)
        }
    }

    private func rearm() {
        guard let context else { return }
        guard let (deadline, _) = self.deadline else { return disarm() }
        if deadline == armedDeadline { return }
        timer?.cancel()
        armedDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.deadlineReached()
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
        armedDeadline = nil
    }

    private func deadlineReached() {
        timer = nil
        armedDeadline = nil
        guard let context, let (deadline, phase) = self.deadline else { return }
        guard deadline <= .now() else { return rearm() }
        logger.debug("closing connection: \(phase.rawValue) timeout",
                     metadata: ["peer": "\(context.channel.remoteAddress?.description ?? "?")"])
        context.close(promise: nil)
    }
}

/// Tells `ConnectionDeadlineHandler` when bytes arrive, before the HTTP decoder takes them.
private final class ByteArrivalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let owner: ConnectionDeadlineHandler

    init(owner: ConnectionDeadlineHandler) { self.owner = owner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner.bytesArrived()
        context.fireChannelRead(data)
    }
}

/// Stops accepting connections while `maximum` are open (the rest wait in the listen backlog), and
/// counts them for `OpenAIServer.openConnections`.
struct ConnectionLimit: AvailableConnectionsDelegate {
    let maximum: Int
    let gauge: ConnectionGauge

    mutating func connectionOpened() { gauge.count.add(1, ordering: .relaxed) }
    mutating func connectionClosed() { gauge.count.subtract(1, ordering: .relaxed) }
    func isAcceptingNewConnections() -> Bool { gauge.count.load(ordering: .relaxed) < maximum }
}

/// The number of open connections, shared between the accepting event loop and whoever asks.
final class ConnectionGauge: Sendable {
    let count = Atomic<Int>(0)
}
