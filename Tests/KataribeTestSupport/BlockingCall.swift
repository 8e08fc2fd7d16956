import Foundation

/// Runs a call that might block forever (reading a FIFO, say) on its own thread, so an async test
/// can wait for it with a bound instead of hanging the whole test process.
public final class BlockingCall<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var outcome: Value?

    public init(_ body: @escaping @Sendable () -> Value) {
        Thread.detachNewThread { [self] in
            let value = body()
            lock.withLock { outcome = value }
        }
    }

    /// The call's value once it returned, polling every 20 ms for at most `limit`; nil if it is
    /// still running then.
    public func value(within limit: Duration) async throws -> Value? {
        let deadline = ContinuousClock.now + limit
        while true {
            if let value = lock.withLock({ outcome }) { return value }
            guard ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Opens and closes the writing end of a FIFO, which releases a reader blocked in `open(2)`.
public func releaseFIFOReader(_ url: URL) {
    let fd = open(url.path, O_WRONLY | O_NONBLOCK)
    if fd >= 0 { close(fd) }
}
