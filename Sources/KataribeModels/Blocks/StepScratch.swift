import KataribeTensor

/// Float rows for one forward step of up to `rows` tokens: a pointer to `rows × width` floats,
/// row-major. Rows of one step are the tokens processed together (a prompt chunk, or later one
/// token of each of B sequences).
public struct FloatRows: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let width: Int

    /// The start of row `index`.
    @inline(__always) public func row(_ index: Int) -> UnsafeMutablePointer<Float> { base + index * width }
}

/// Owns the scratch buffers of one session: allocated once, for the session's row capacity,
/// zero-filled, freed with the arena. Architectures describe their scratch as a struct of
/// `FloatRows` taken from an arena (see `GPTNeoXScratch`).
public final class ScratchArena {
    public let rows: Int
    private var allocations: [UnsafeMutablePointer<Float>] = []

    public init(rows: Int) {
        self.rows = max(rows, 1)
    }

    deinit {
        for allocation in allocations { allocation.deallocate() }
    }

    /// `rows × width` zeroed floats.
    public func rows(width: Int) -> FloatRows {
        let count = max(rows * width, 1)
        let pointer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        pointer.initialize(repeating: 0, count: count)
        allocations.append(pointer)
        return FloatRows(base: pointer, width: width)
    }
}
