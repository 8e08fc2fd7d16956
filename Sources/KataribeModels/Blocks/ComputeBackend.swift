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
/// in `caches[i]`. A prompt chunk of one sequence (one cache, consecutive positions), the prompts
/// of several sequences computed together, or one token of each of several sequences (batched
/// decoding). Every row is computed as it would be in a step of its own sequence alone: products
/// and norms work row by row or lane by lane, and what a row's own call would decide (dynamic
/// NTK's length, the product kernel) is decided per row.
public struct ForwardStep {
    public let tokens: [Int]
    public let positions: [Int]
    public let caches: [KVCache]
    /// Per row, the length its sequence reaches in this step: what a forward call of that
    /// sequence alone would see (dynamic NTK scales its frequencies by it).
    public let sequenceLengths: [Int]
    /// Products compute each row as a one-row GEMV (decoding), else as the blocked GEMM (prompts),
    /// whose rows are independent lanes too.
    public let rowwiseProducts: Bool
    /// Rows of several sequences: their logits are computed row by row, as each sequence's last
    /// row alone would be.
    public let severalSequences: Bool

    public var count: Int { tokens.count }

    /// A prompt chunk of the sequence cached in `cache`, starting at `start`.
    public init(chunk tokens: [Int], startingAt start: Int, cache: KVCache) {
        self.tokens = tokens
        positions = Array(start..<(start + tokens.count))
        caches = Array(repeating: cache, count: tokens.count)
        sequenceLengths = Array(repeating: start + tokens.count, count: tokens.count)
        rowwiseProducts = tokens.count == 1
        severalSequences = false
    }

    /// The next token of each of several sequences.
    public init(nextTokens tokens: [Int], positions: [Int], caches: [KVCache]) {
        precondition(tokens.count == positions.count && tokens.count == caches.count)
        self.tokens = tokens
        self.positions = positions
        self.caches = caches
        sequenceLengths = positions.map { $0 + 1 }
        rowwiseProducts = true
        severalSequences = true
    }

    /// Prompt chunks of several sequences, each as `init(chunk:startingAt:cache:)` would run it
    /// alone (each at least two tokens, so that alone it would use the blocked product too).
    public init(chunks: [(tokens: [Int], start: Int, cache: KVCache)]) {
        precondition(chunks.allSatisfy { $0.tokens.count >= 2 })
        let steps = chunks.map { ForwardStep(chunk: $0.tokens, startingAt: $0.start, cache: $0.cache) }
        tokens = steps.flatMap(\.tokens)
        positions = steps.flatMap(\.positions)
        caches = steps.flatMap(\.caches)
        sequenceLengths = steps.flatMap(\.sequenceLengths)
        rowwiseProducts = false
        severalSequences = true
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
        backend.rowwiseProducts = step.rowwiseProducts
        return backend
    }

    @inline(__always)
    public func linear(_ layer: LinearLayer, _ x: FloatRows, rows: Int, into y: FloatRows) {
        layer(x, rows: rows, into: y, rowwise: rowwiseProducts, parallelism: parallelism)
    }

    /// logits[i] = norm(x[rows[i]]) · headᵀ, packed from row 0. Rows of several sequences are
    /// computed one by one (each as its sequence's last row alone is); a prompt's rows (scoring)
    /// through the blocked product.
    func outputLogits(_ step: ForwardStep, rows: [Int], x: FloatRows, normed: FloatRows, norm: (FloatRows, Int, FloatRows) -> Void,
                      head: WeightMatrix, into logits: FloatRows) {
        guard let first = rows.first else { return }
        if rows == Array(first..<(first + rows.count)) {
            norm(FloatRows(base: x.row(first), width: x.width), rows.count, normed)
        } else {
            for (i, row) in rows.enumerated() {
                norm(FloatRows(base: x.row(row), width: x.width), 1, FloatRows(base: normed.row(i), width: normed.width))
            }
        }
        if rowwiseProducts || step.severalSequences {
            head.rowwiseGEMV(normed.base, count: rows.count, into: logits.base, parallelism: parallelism)
        } else {
            head.gemm(normed.base, count: rows.count, into: logits.base, parallelism: parallelism)
        }
    }

    /// Runs `body` on contiguous ranges of a step's rows: spread over the cores for a prompt (on
    /// the calling thread alone, the row-wise steps between products kept the workers waiting),
    /// in one piece for a few rows. Each row is computed exactly as alone either way.
    func forEachRowRange(_ rows: Int, _ body: @Sendable (Range<Int>) -> Void) {
        guard rows >= 8 else { return body(0..<rows) }
        parallelism.forEachChunk(of: rows, minimumChunk: 4, chunksPerThread: 2, body)
    }

    public func layerNorm(_ norm: LayerNorm, _ x: FloatRows, rows: Int, into y: FloatRows) {
        forEachRowRange(rows) { range in
            norm(FloatRows(base: x.row(range.lowerBound), width: x.width), rows: range.count,
                 into: FloatRows(base: y.row(range.lowerBound), width: y.width))
        }
    }

    public func rmsNorm(_ norm: RMSNorm, _ x: FloatRows, rows: Int, into y: FloatRows) {
        forEachRowRange(rows) { range in
            norm(x.row(range.lowerBound), rows: range.count, width: x.width, into: y.row(range.lowerBound))
        }
    }

    /// x += addend over `rows` rows (the residual stream).
    public func addResidual(_ x: FloatRows, _ addend: FloatRows, rows: Int) {
        forEachRowRange(rows) { range in
            for i in (range.lowerBound * x.width)..<(range.upperBound * x.width) { x.base[i] = x.base[i] + addend.base[i] }
        }
    }

    public func activate(_ activation: Activation, _ x: FloatRows, rows: Int) {
        // The vectorized activations finish a chunk's last few values with scalar code that rounds
        // differently, so every row is split as a step of that row alone splits it. A row narrower
        // than two of `activate`'s chunks is one piece alone, so the rows of a prompt can go to
        // the cores whole (on the calling thread alone it kept the workers waiting).
        if x.width < 2 * Self.activationChunk {
            forEachRowRange(rows) { range in
                for row in range { activation.apply(x.row(row), count: x.width) }
            }
            return
        }
        for row in 0..<rows { activate(activation, x.row(row), count: x.width) }
    }

    static let activationChunk = 16_384

    private func activate(_ activation: Activation, _ values: UnsafeMutablePointer<Float>, count: Int) {
        let base = SendablePointer(values)
        parallelism.forEachChunk(of: count, minimumChunk: Self.activationChunk) { range in
            activation.apply(base.pointer + range.lowerBound, count: range.count)
        }
    }

    @inline(__always)
    public func attend(_ attention: Attention, _ queries: Attention.Queries, step: ForwardStep, layer: Int, into output: FloatRows) {
        attention(queries, step: step, layer: layer, into: output, parallelism: parallelism)
    }
}
