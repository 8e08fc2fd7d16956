import Foundation
import Synchronization

/// The events of one generation request, for ONE consumer: `.text` chunks as they become final,
/// `.sampleFinished` per sample, then `.finished` with the summary. Errors (`TextGenerationError`) are
/// thrown by the iterator.
///
/// The model runs on its engine's thread (not the Swift concurrency pool); the request joins the
/// engine's batch when iteration begins. Cancelling the consuming task, breaking out of the loop or calling `cancel()` stops it
/// after the current token: the sample in progress ends with stop reason `.cancelled`, later samples
/// are not started (they are reported `.cancelled` with no tokens), and the summary still arrives to a
/// consumer that keeps iterating.
public struct GenerationStream: AsyncSequence, Sendable {
    public typealias Element = GenerationEvent
    public typealias Failure = any Error

    let channel: EventChannel
    private let starter: Starter

    init(channel: EventChannel, work: @escaping @Sendable () -> Void) {
        self.channel = channel
        self.starter = Starter(work: work)
    }

    public func makeAsyncIterator() -> Iterator {
        starter.startOnce()
        return Iterator(lifetime: ConsumerLifetime(channel: channel))
    }

    /// The name of the threads that run the model (visible in debuggers and `top -H`).
    public static let threadName = "kataribe-gen"

    /// Asks the generation to stop after the current token.
    public func cancel() { channel.cancel() }

    /// Runs the request to its end and returns the summary, ignoring the chunks.
    public func collect() async throws -> GenerationSummary {
        for try await event in self {
            if case .finished(let summary) = event { return summary }
        }
        throw CancellationError()
    }

    public struct Iterator: AsyncIteratorProtocol {
        let lifetime: ConsumerLifetime

        public mutating func next() async throws -> GenerationEvent? {
            try await lifetime.channel.next()
        }
    }

    /// Stops the generation when the consumer drops its iterator.
    final class ConsumerLifetime: Sendable {
        let channel: EventChannel
        init(channel: EventChannel) { self.channel = channel }
        deinit { channel.cancel() }
    }

    /// Hands the request to its engine the first time iteration begins.
    final class Starter: Sendable {
        private let work: Mutex<(@Sendable () -> Void)?>

        init(work: @escaping @Sendable () -> Void) {
            self.work = Mutex(work)
        }

        func startOnce() {
            guard let work = work.withLock({ w -> (@Sendable () -> Void)? in defer { w = nil }; return w }) else { return }
            work()
        }
    }
}
