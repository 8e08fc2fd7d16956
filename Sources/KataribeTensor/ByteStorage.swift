import Foundation

/// An immutable run of bytes that tensors point into: either a slice of a memory-mapped file (kept
/// alive by `owner`) or memory this object allocated and frees.
///
/// Weights are read from many threads at once, so the bytes must never change after creation.
public final class ByteStorage: @unchecked Sendable {
    public let base: UnsafeRawPointer
    public let count: Int
    private let owner: AnyObject?
    private let allocated: UnsafeMutableRawPointer?

    /// Borrows `count` bytes at `base`; `owner` keeps them valid for this storage's lifetime.
    public init(borrowing base: UnsafeRawPointer, count: Int, owner: AnyObject) {
        self.base = base
        self.count = count
        self.owner = owner
        self.allocated = nil
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
    }

    /// Allocates `count` bytes and lets `fill` write them once.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        fill(UnsafeMutableRawBufferPointer(start: memory, count: count))
        self.base = UnsafeRawPointer(memory)
        self.count = count
        self.owner = nil
        self.allocated = memory
    }

    deinit {
        allocated?.deallocate()
    }
}
