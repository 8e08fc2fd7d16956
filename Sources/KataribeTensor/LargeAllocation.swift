#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory for weights made at load time (quantized or converted matrices). Large blocks are
/// aligned to 2 MiB and marked for transparent huge pages where the OS offers them: the decode
/// loop streams every weight once per token, and 4 KiB pages would cost a TLB miss every 4 KiB.
final class LargeAllocation: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int

    init(count: Int) {
        let hugePage = 2 << 20
        let alignment = count >= 2 * hugePage ? hugePage : 64
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, alignment, max(count, 1)) == 0, let memory else {
            // Like Swift's own allocator: running out of memory is not recoverable here (model
            // configs are checked against physical memory before anything is allocated).
            fatalError("out of memory allocating \(count) bytes for weights")
        }
        base = memory
        self.count = count
        #if os(Linux)
        if alignment == hugePage { _ = madvise(base, count, 14 /* MADV_HUGEPAGE */) }
        #endif
    }

    deinit { free(base) }

    /// A storage over these bytes that keeps the allocation alive.
    func storage() -> ByteStorage {
        ByteStorage(borrowing: UnsafeRawPointer(base), count: count, owner: self)
    }
}
