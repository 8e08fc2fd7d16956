import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An immutable run of bytes that tensors point into: either a slice of a memory-mapped file (kept
/// alive by `owner`) or memory this object allocated and frees.
///
/// Weights are read from many threads at once, so the bytes must never change after creation.
public final class ByteStorage: @unchecked Sendable {
    public let base: UnsafeRawPointer
    public let count: Int
    private let owner: AnyObject?
    private let allocated: UnsafeMutableRawPointer?
    /// True for a read-only file mapping, whose pages can be dropped and read again from the file.
    public let isFileMapping: Bool

    /// Borrows `count` bytes at `base`; `owner` keeps them valid for this storage's lifetime.
    /// `isFileMapping` marks a read-only mapping of a file (see `releasePages`).
    public init(borrowing base: UnsafeRawPointer, count: Int, owner: AnyObject, isFileMapping: Bool = false) {
        self.base = base
        self.count = count
        self.owner = owner
        self.allocated = nil
        self.isFileMapping = isFileMapping
    }

    /// Hands the pages under `range` (bytes from `base`) back to the OS when they come from a
    /// file mapping: after a tensor was converted (e.g. quantized), its source no longer needs
    /// to count towards the process's memory. Reading them again reloads them from the file.
    /// Does nothing for memory this process allocated.
    public func releasePages(_ range: Range<Int>) {
        #if os(Linux)
        guard isFileMapping, range.lowerBound >= 0, range.upperBound <= count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + range.lowerBound + page - 1) / page * page
        let end = (Int(bitPattern: base) + range.upperBound) / page * page
        if end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) {
            _ = madvise(pointer, end - start, 4 /* MADV_DONTNEED */)
        }
        #endif
    }

    /// Copies `bytes` into fresh 64-byte aligned memory.
    public init(copying bytes: UnsafeRawBufferPointer) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        if let source = bytes.baseAddress, bytes.count > 0 {
            memory.copyMemory(from: source, byteCount: bytes.count)
        }
        self.base = UnsafeRawPointer(memory)
        self.count = bytes.count
        self.owner = nil
        self.allocated = memory
        self.isFileMapping = false
    }

    /// Allocates `count` bytes and lets `fill` write them once.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        fill(UnsafeMutableRawBufferPointer(start: memory, count: count))
        self.base = UnsafeRawPointer(memory)
        self.count = count
        self.owner = nil
        self.allocated = memory
        self.isFileMapping = false
    }

    deinit {
        allocated?.deallocate()
    }
}
