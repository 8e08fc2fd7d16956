import Dispatch
import Foundation

/// How the kernels split work across cores. A first cut on top of `concurrentPerform`; a
/// persistent pool can replace the body of `forEachChunk` without touching callers.
public struct Parallelism: Sendable, Hashable {
    /// Worker count; 1 runs everything on the calling thread.
    public var threadCount: Int

    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
    }

    /// One thread per active core.
    public static var automatic: Parallelism {
        Parallelism(threadCount: ProcessInfo.processInfo.activeProcessorCount)
    }

    public static let serial = Parallelism(threadCount: 1)

    /// Splits `0..<count` into contiguous ranges of at least `minimumChunk` items and runs `body`
    /// on each, possibly concurrently. `body` must only write to memory owned by its own range.
    public func forEachChunk(
        of count: Int, minimumChunk: Int = 1, _ body: @Sendable (Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        let maxChunks = max(1, count / max(1, minimumChunk))
        // A few chunks per thread evens out cores that get interrupted.
        let chunks = min(maxChunks, threadCount == 1 ? 1 : threadCount * 4)
        if chunks <= 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            if start < end { body(start..<end) }
        }
    }
}

/// A pointer that may be captured by the concurrent kernels. Safe because every kernel writes
/// disjoint ranges and reads only memory that no one writes during the call.
public struct SendablePointer<Pointee>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Pointee>
    public init(_ pointer: UnsafeMutablePointer<Pointee>) { self.pointer = pointer }
}

public struct SendableRawPointer: @unchecked Sendable {
    public let pointer: UnsafeRawPointer
    public init(_ pointer: UnsafeRawPointer) { self.pointer = pointer }
}
