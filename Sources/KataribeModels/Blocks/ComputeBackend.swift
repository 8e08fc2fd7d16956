import KataribeTensor

/// The operations a forward pass is made of, on a backend's own memory. This is the seam for a
/// GPU backend: it would supply the same operations on device buffers (its own `Rows` and
/// `Cache` types), and an architecture's forward pass, written against a backend, would run on
/// it unchanged. The CPU is the only implementation today; GPT-NeoX's forward pass calls it
/// directly (`CPUBackend` is a struct, so the calls are static and cost nothing).
public protocol ComputeBackend: Sendable {
    /// A block of activation rows ([rows, width]).
    associatedtype Rows
    /// One sequence's keys and values.
    associatedtype Cache

    /// `y = x · Wᵀ + b` for `rows` rows.
    func linear(_ layer: LinearLayer, _ x: Rows, rows: Int, into y: Rows)
    /// LayerNorm of each of `rows` rows.
    func layerNorm(_ norm: LayerNorm, _ x: Rows, rows: Int, into y: Rows)
    /// The activation applied elementwise to the first `rows` rows.
    func activate(_ activation: Activation, _ x: Rows, rows: Int)
    /// Causal attention of `rows` query rows against `cache` (see `Attention`).
    func attend(_ attention: Attention, _ queries: Attention.Queries, positions: [Int], cache: Cache, layer: Int, into output: Rows)
}

/// The CPU: KataribeTensor's kernels (runtime-dispatched C with a portable fallback) on the
/// process-wide thread pool.
public struct CPUBackend: ComputeBackend {
    public let parallelism: Parallelism

    public init(parallelism: Parallelism) {
        self.parallelism = parallelism
    }

    @inline(__always)
    public func linear(_ layer: LinearLayer, _ x: FloatRows, rows: Int, into y: FloatRows) {
        layer(x, rows: rows, into: y, parallelism: parallelism)
    }

    @inline(__always)
    public func layerNorm(_ norm: LayerNorm, _ x: FloatRows, rows: Int, into y: FloatRows) {
        norm(x, rows: rows, into: y)
    }

    public func activate(_ activation: Activation, _ x: FloatRows, rows: Int) {
        let base = SendablePointer(x.base)
        parallelism.forEachChunk(of: rows * x.width, minimumChunk: 16_384) { range in
            activation.apply(base.pointer + range.lowerBound, count: range.count)
        }
    }

    @inline(__always)
    public func attend(_ attention: Attention, _ queries: Attention.Queries, positions: [Int], cache: KVCache, layer: Int,
                       into output: FloatRows) {
        attention(queries, positions: positions, cache: cache, layer: layer, into: output, parallelism: parallelism)
    }
}
