import Synchronization

/// Lets requests share one loaded model: at most `concurrency` generations run at a time (one by
/// default: on a CPU a single generation already uses every core through the kernels' thread pool,
/// so running two at once only splits the cores), and at most `maxQueue` more wait, first come
/// first served. A request that finds the queue full is refused at once (`reserve()` returns nil),
/// which the server answers with 429.
public final class GenerationScheduler: Sendable {
    public let concurrency: Int
    public let maxQueue: Int

    private struct Waiter {
        let id: UInt64
        var continuation: CheckedContinuation<Void, any Error>?
    }

    private struct State {
        var running = 0
        var queue: [Waiter] = []  // short (maxQueue); removal from the middle is rare (cancellation)
        var granted: Set<UInt64> = []
        var nextID: UInt64 = 0
        var statistics = SchedulerStatistics()
    }

    private let state = Mutex(State())

    public init(concurrency: Int = 1, maxQueue: Int) {
        self.concurrency = max(1, concurrency)
        self.maxQueue = max(0, maxQueue)
    }

    /// A place in line, or nil when every worker is busy and the queue is full.
    public func reserve() -> Reservation? {
        let id: UInt64? = state.withLock { s in
            let id = s.nextID
            if s.running < concurrency && s.queue.isEmpty {
                s.running += 1
                s.granted.insert(id)
            } else if s.queue.count < maxQueue {
                s.queue.append(Waiter(id: id))
            } else {
                s.statistics.refused += 1
                return nil
            }
            s.nextID += 1
            return id
        }
        return id.map { Reservation(scheduler: self, id: $0) }
    }

    /// Counts for monitoring (and tests).
    public var statistics: SchedulerStatistics {
        state.withLock { s in
            var out = s.statistics
            out.running = s.running
            out.queued = s.queue.count
            return out
        }
    }

    /// Suspends until `id` may run. Throws `CancellationError` when the task is cancelled first
    /// (the place in line is then given up).
    fileprivate func waitForTurn(_ id: UInt64) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case run, wait, cancelled }
                let outcome = state.withLock { s -> Outcome in
                    if s.granted.contains(id) { return .run }
                    guard let index = s.queue.firstIndex(where: { $0.id == id }) else { return .cancelled }
                    if Task.isCancelled {
                        s.queue.remove(at: index)
                        return .cancelled
                    }
                    s.queue[index].continuation = continuation
                    return .wait
                }
                switch outcome {
                case .run: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .wait: break
                }
            }
        } onCancel: {
            let continuation = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                guard let index = s.queue.firstIndex(where: { $0.id == id }) else { return nil }
                return s.queue.remove(at: index).continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Ends `id`'s turn (or its wait) and starts the next in line.
    fileprivate func release(_ id: UInt64) {
        let next = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            if s.granted.remove(id) != nil {
                s.running -= 1
            } else if let index = s.queue.firstIndex(where: { $0.id == id }) {
                s.queue.remove(at: index)
            }
            guard s.running < concurrency, !s.queue.isEmpty else { return nil }
            let waiter = s.queue.removeFirst()
            s.running += 1
            s.granted.insert(waiter.id)
            // A waiter that has not suspended yet finds itself granted when it does.
            return waiter.continuation
        }
        next?.resume()
    }

    fileprivate func record(_ outcome: Reservation.Outcome) {
        state.withLock { s in
            switch outcome {
            case .completed: s.statistics.completed += 1
            case .cancelled: s.statistics.cancelled += 1
            case .failed: s.statistics.failed += 1
            }
        }
    }
}

/// A request's place in the scheduler. Its turn (or its place in line) ends with `release()`, or at
/// the latest when the reservation is deallocated, so a request that is dropped never blocks others.
public final class Reservation: Sendable {
    public enum Outcome: Sendable { case completed, cancelled, failed }

    private let scheduler: GenerationScheduler
    private let id: UInt64
    private let released = Atomic<Bool>(false)

    fileprivate init(scheduler: GenerationScheduler, id: UInt64) {
        self.scheduler = scheduler
        self.id = id
    }

    /// Waits for this request's turn; throws `CancellationError` if the task is cancelled first.
    public func waitForTurn() async throws {
        try await scheduler.waitForTurn(id)
    }

    /// Gives the turn to the next request; `outcome` is counted in the statistics. Idempotent.
    public func release(_ outcome: Outcome? = nil) {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let outcome { scheduler.record(outcome) }
        scheduler.release(id)
    }

    deinit { release() }
}

/// What the scheduler has seen.
public struct SchedulerStatistics: Sendable, Equatable {
    /// Generations running now.
    public var running = 0
    /// Requests waiting for their turn.
    public var queued = 0
    /// Requests answered with 429 because the queue was full.
    public var refused = 0
    public var completed = 0
    /// Generations stopped because their client went away (or the request was cancelled).
    public var cancelled = 0
    public var failed = 0
}
