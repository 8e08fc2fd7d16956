import Foundation
import KataribeCKernels

/// How the kernels split work across cores. Work runs on one persistent, process-wide thread
/// pool (KataribeCKernels' `kc_parallel_for`): its workers spin briefly between the few hundred
/// parallel regions of a generated token and sleep when idle, which costs microseconds per region
/// where `DispatchQueue.concurrentPerform` cost tens.
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

    /// Runs `body(task)` for every task in `0..<count`, spread over the threads; tasks are handed
    /// out one at a time, so a core another process interrupts simply takes fewer. `body` must
    /// only write memory that belongs to its own task. Nested calls run serially.
    public func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        guard count > 0 else { return }
        if threadCount == 1 || count == 1 {
            for task in 0..<count { body(task) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            var context = TaskContext(body: escapable)
            withUnsafeMutablePointer(to: &context) { pointer in
                kc_parallel_for(Int32(clamping: threadCount), count, { raw, task in
                    raw!.assumingMemoryBound(to: TaskContext.self).pointee.body(task)
                }, pointer)
            }
        }
    }

    /// Splits `0..<count` into contiguous ranges of at least `minimumChunk` items (several per
    /// thread) and runs `body` on each, possibly concurrently. Range bounds are multiples of
    /// `granularity` (except the end). `body` must only write to memory owned by its own range.
    public func forEachChunk(
        of count: Int, minimumChunk: Int = 1, granularity: Int = 1, chunksPerThread: Int = 4,
        _ body: @Sendable (Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        let step = max(1, granularity)
        let units = (count + step - 1) / step
        let maxChunks = max(1, count / max(1, minimumChunk))
        // Several chunks per thread even out cores that get interrupted.
        let chunks = min(maxChunks, units, threadCount == 1 ? 1 : threadCount * max(1, chunksPerThread))
        forEach(chunks) { chunk in
            let start = min(count, units * chunk / chunks * step)
            let end = min(count, units * (chunk + 1) / chunks * step)
            if start < end { body(start..<end) }
        }
    }
}

private struct TaskContext {
    let body: @Sendable (Int) -> Void
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
