import Synchronization

/// Hands events from the generation thread to one async consumer, and the consumer's cancellation
/// back to the thread. Events are buffered, so the producer never waits for the consumer.
final class EventChannel: Sendable {
    private struct State {
        var events: [GenerationEvent] = []
        var head = 0
        var finished = false
        var failure: TextGenerationError?
        var waiter: CheckedContinuation<GenerationEvent?, any Error>?
        var cancelled = false
    }

    private let state = Mutex(State())

    /// Set once the consumer's task is cancelled, it stops iterating, or `cancel()` is called.
    var isCancelled: Bool { state.withLock { $0.cancelled } }

    func cancel() { state.withLock { $0.cancelled = true } }

    func send(_ event: GenerationEvent) {
        let waiter = state.withLock { s -> CheckedContinuation<GenerationEvent?, any Error>? in
            if let waiter = s.waiter {
                s.waiter = nil
                return waiter
            }
            s.events.append(event)
            return nil
        }
        waiter?.resume(returning: event)
    }

    func finish(throwing failure: TextGenerationError? = nil) {
        let waiter = state.withLock { s -> CheckedContinuation<GenerationEvent?, any Error>? in
            s.finished = true
            s.failure = failure
            defer { s.waiter = nil }
            return s.waiter
        }
        if let failure { waiter?.resume(throwing: failure) } else { waiter?.resume(returning: nil) }
    }

    /// The next event; nil after the last one. Cancelling the calling task asks the producer to stop;
    /// the events that stopping produces (a `.cancelled` sample, the summary) are still delivered.
    func next() async throws -> GenerationEvent? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<GenerationEvent?, any Error>) in
                enum Action { case deliver(GenerationEvent), end(TextGenerationError?), wait }
                let action = state.withLock { s -> Action in
                    if s.head < s.events.count {
                        let event = s.events[s.head]
                        s.head += 1
                        if s.head == s.events.count {
                            s.events.removeAll(keepingCapacity: true)
                            s.head = 0
                        }
                        return .deliver(event)
                    }
                    if s.finished {
                        defer { s.failure = nil }  // an error is reported once
                        return .end(s.failure)
                    }
                    s.waiter = continuation
                    return .wait
                }
                switch action {
                case .deliver(let event): continuation.resume(returning: event)
                case .end(let failure?): continuation.resume(throwing: failure)
                case .end(nil): continuation.resume(returning: nil)
                case .wait: break
                }
            }
        } onCancel: {
            cancel()
        }
    }
}
