/// A dense, contiguous, row-major tensor as stored in a checkpoint: dtype, shape and the bytes
/// (usually inside a memory-mapped file). Nothing is converted until a consumer asks.
public struct RawTensor: Sendable {
    public let dtype: DType
    public let shape: [Int]
    public let storage: ByteStorage
    public let byteOffset: Int

    /// Callers guarantee `byteOffset + byteCount <= storage.count` (the checkpoint readers validate it).
    public init(dtype: DType, shape: [Int], storage: ByteStorage, byteOffset: Int) {
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
        self.byteOffset = byteOffset
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { elementCount * dtype.size }
    public var baseAddress: UnsafeRawPointer { storage.base + byteOffset }
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: baseAddress, count: byteCount) }

    /// Whether typed loads of this dtype are aligned (mmapped data from a hostile file may not be).
    public var isAligned: Bool { Int(bitPattern: baseAddress) % dtype.size == 0 }

    /// The same tensor moved into its own aligned memory when its bytes are misaligned.
    public func aligned() -> RawTensor {
        if isAligned { return self }
        return RawTensor(dtype: dtype, shape: shape, storage: ByteStorage(copying: bytes), byteOffset: 0)
    }

    /// Drops this tensor's pages from the process when it lives in a file mapping (after it has
    /// been converted and will not be read again soon); see `ByteStorage.releasePages`.
    public func releasePages() {
        storage.releasePages(byteOffset..<(byteOffset + byteCount))
    }

    /// Every element widened to `Float` (floating dtypes only; others return nil).
    public func floats() -> [Float]? {
        guard dtype.isWeightType else { return nil }
        let count = elementCount
        let tensor = aligned()
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let out = buffer.baseAddress {
                convertToFloat(tensor.baseAddress, dtype: tensor.dtype, count: count, into: out)
            }
            initialized = count
        }
    }
}

/// Widens `count` elements of a floating dtype at `source` (aligned to the dtype) into `out`.
public func convertToFloat(_ source: UnsafeRawPointer, dtype: DType, count: Int, into out: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .float32:
        out.update(from: source.assumingMemoryBound(to: Float.self), count: count)
    case .float16:
        HalfConversion.halfToFloat(source.assumingMemoryBound(to: UInt16.self), out, count: count)
    case .bfloat16:
        HalfConversion.bfloat16ToFloat(source.assumingMemoryBound(to: UInt16.self), out, count: count)
    default:
        break
    }
}
