import KataribeTensor

/// The operations a forward pass is made of, on a backend's own memory. This is the seam for a
/// GPU backend: it would supply the same operations on device buffers (its own `Rows` and
/// `Cache` types), and an architecture's forward pass, written against a backend, would run on
/// it unchanged. The CPU is the only implementation today; GPT-NeoX's forward pass calls it
/// directly (`CPUBackend` is a struct, so the calls are static and cost nothing).
public protocol ComputeBackend: Sendable {
    /// A block of activation rows ([rows, width]).
    associatedtype Rows
    /// A step's rows and the caches their keys and values go to.
    associatedtype Step

    /// `y = x · Wᵀ + b` for `rows` rows.
    func linear(_ layer: LinearLayer, _ x: Rows, rows: Int, into y: Rows)
    /// LayerNorm of each of `rows` rows.
    func layerNorm(_ norm: LayerNorm, _ x: Rows, rows: Int, into y: Rows)
    /// The activation applied elementwise to the first `rows` rows.
    func activate(_ activation: Activation, _ x: Rows, rows: Int)
    /// Causal attention of the step's query rows, each against its own cache (see `Attention`).
    func attend(_ attention: Attention, _ queries: Attention.Queries, step: Step, layer: Int, into output: Rows)
}

/// The rows of one forward step: row i is `tokens[i]` at `positions[i]`, its key and value cached
/// in `caches[i]`. Either a prompt chunk of one sequence (one cache, consecutive positions) or one
/// token of each of several sequences (batched decoding, `independentRows`).
public struct ForwardStep {
    public let tokens: [Int]
    public let positions: [Int]
    public let caches: [KVCache]
    /// The rows belong to different sequences: every product computes each row exactly as it
    /// would be computed alone, so that a sequence's logits do not depend on its batch.
    public let independentRows: Bool

    public var count: Int { tokens.count }

    /// A prompt chunk of the sequence cached in `cache`, starting at `start`.
    public init(chunk tokens: [Int], startingAt start: Int, cache: KVCache) {
        self.tokens = tokens
        positions = Array(start..<(start + tokens.count))
        caches = Array(repeating: cache, count: tokens.count)
        independentRows = false
    }

    /// The next token of each of several sequences.
    public init(nextTokens tokens: [Int], positions: [Int], caches: [KVCache]) {
        precondition(tokens.count == positions.count && tokens.count == caches.count)
        self.tokens = tokens
        self.positions = positions
        self.caches = caches
        independentRows = true
    }
}

/// The CPU: KataribeTensor's kernels (runtime-dispatched C with a portable fallback) on the
/// process-wide thread pool.
public struct CPUBackend: ComputeBackend {
    public let parallelism: Parallelism
    /// Products compute each row as a one-row product would (`WeightMatrix.rowwiseGEMV`).
    public private(set) var rowwiseProducts = false

    public init(parallelism: Parallelism) {
        self.parallelism = parallelism
    }

    /// This backend set up for `step`'s kind of rows.
    public func running(_ step: ForwardStep) -> CPUBackend {
        var backend = self
        backend.rowwiseProducts = step.independentRows
        return backend
    }

    @inline(__always)
    public func linear(_ layer: LinearLayer, _ x: FloatRows, rows: Int, into y: FloatRows) {
        layer(x, rows: rows, into: y, rowwise: rowwiseProducts, parallelism: parallelism)
    }

    /// `y = x · Wᵀ` for a weight with no bias (the output head).
    @inline(__always)
    public func product(_ weight: WeightMatrix, _ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        if rowwiseProducts {
            weight.rowwiseGEMV(x, count: rows, into: y, parallelism: parallelism)
        } else {
            weight.gemm(x, count: rows, into: y, parallelism: parallelism)
        }
    }

    @inline(__always)
    public func layerNorm(_ norm: LayerNorm, _ x: FloatRows, rows: Int, into y: FloatRows) {
        norm(x, rows: rows, into: y)
    }

    public func activate(_ activation: Activation, _ x: FloatRows, rows: Int) {
        // The vectorized activations finish a chunk's last few values with scalar code that rounds
        // differently, so independent rows are split exactly as a one-row step splits its row.
        if rowwiseProducts {
            for row in 0..<rows { activate(activation, x.row(row), count: x.width) }
        } else {
            activate(activation, x.base, count: rows * x.width)
        }
    }

    private func activate(_ activation: Activation, _ values: UnsafeMutablePointer<Float>, count: Int) {
        let base = SendablePointer(values)
        parallelism.forEachChunk(of: count, minimumChunk: 16_384) { range in
            activation.apply(base.pointer + range.lowerBound, count: range.count)
        }
    }

    @inline(__always)
    public func attend(_ attention: Attention, _ queries: Attention.Queries, step: ForwardStep, layer: Int, into output: FloatRows) {
        attention(queries, step: step, layer: layer, into: output, parallelism: parallelism)
    }
}
