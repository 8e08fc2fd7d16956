import KataribeTensor

/// Shape of a model's KV cache: what a session allocates per cached position.
public struct KVCacheLayout: Sendable, Equatable {
    public var layers: Int
    /// Key/value heads (fewer than query heads under grouped-query attention).
    public var kvHeads: Int
    public var headDim: Int
    /// Query heads, which each need a row of attention scores.
    public var queryHeads: Int
    public var format: KVCacheFormat

    public init(layers: Int, kvHeads: Int, headDim: Int, queryHeads: Int, format: KVCacheFormat) {
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.queryHeads = queryHeads
        self.format = format
    }

    /// Bytes per cached key or value element.
    public var elementBytes: Int { format == .float16 ? 2 : 4 }

    /// Keys and values of every layer for `positions` positions.
    public func bytes(positions: Int) -> Int { 2 * layers * kvHeads * positions * headDim * elementBytes }
}

/// The keys and values of one sequence: per layer `[kvHeads, capacity, headDim]` in the layout's
/// element type, plus the attention-score rows that go with them. Grows by doubling up to the
/// context length (or exactly, when reserved), copying what is cached.
public final class KVCache {
    public let layout: KVCacheLayout
    public let contextLength: Int
    private(set) var keys: [UnsafeMutableRawPointer] = []
    private(set) var values: [UnsafeMutableRawPointer] = []
    /// `[queryHeads, capacity]` attention scores (written and read inside `Attention` only).
    private(set) var scores: UnsafeMutablePointer<Float>
    public private(set) var capacity = 0

    public init(layout: KVCacheLayout, contextLength: Int) {
        self.layout = layout
        self.contextLength = contextLength
        scores = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    }

    deinit {
        scores.deallocate()
        for p in keys + values { p.deallocate() }
    }

    /// Room for `count` positions, keeping the first `used`: exactly `count`, or by doubling
    /// (capped at the context) so that token-by-token appends copy the cache only a few times.
    public func reserve(_ count: Int, used: Int, exactly: Bool = false) {
        guard count > capacity else { return }
        var newCapacity = exactly ? count : max(capacity, min(64, contextLength))
        while newCapacity < count { newCapacity = min(newCapacity * 2, contextLength) }
        let heads = layout.kvHeads, d = layout.headDim, element = layout.elementBytes, oldCapacity = capacity
        func grow(_ old: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer {
            let fresh = UnsafeMutableRawPointer.allocate(byteCount: heads * newCapacity * d * element, alignment: 64)
            if let old {
                for h in 0..<heads {
                    (fresh + h * newCapacity * d * element)
                        .copyMemory(from: old + h * oldCapacity * d * element, byteCount: used * d * element)
                }
                old.deallocate()
            }
            return fresh
        }
        if keys.isEmpty {
            keys = (0..<layout.layers).map { _ in grow(nil) }
            values = (0..<layout.layers).map { _ in grow(nil) }
        } else {
            keys = keys.map { grow($0) }
            values = values.map { grow($0) }
        }
        scores.deallocate()
        scores = UnsafeMutablePointer<Float>.allocate(capacity: max(layout.queryHeads * newCapacity, 1))
        capacity = newCapacity
    }

    /// Writes the key and value of `kvHead` at `position` of `layer`, converting to the cache's
    /// element type.
    @inline(__always)
    public func store(layer: Int, kvHead: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        let offset = slot(kvHead: kvHead, position: position)
        Self.store(key, into: keys[layer] + offset, count: layout.headDim, half: layout.format == .float16)
        Self.store(value, into: values[layer] + offset, count: layout.headDim, half: layout.format == .float16)
    }

    /// Fills positions `range` of every layer with pseudo-random keys and values in [-1, 1]
    /// (benchmarks of long contexts: attention costs the same whatever the numbers are).
    public func fillSynthetic(positions range: Range<Int>, next: () -> UInt64) {
        let d = layout.headDim
        let row = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { row.deallocate() }
        let half = layout.format == .float16
        for layer in 0..<keys.count {
            for head in 0..<layout.kvHeads {
                for position in range {
                    let offset = slot(kvHead: head, position: position)
                    for c in 0..<d { row[c] = Float(Int(next() % 2001) - 1000) / 1000 }
                    Self.store(row, into: keys[layer] + offset, count: d, half: half)
                    for c in 0..<d { row[c] = Float(Int(next() % 2001) - 1000) / 1000 }
                    Self.store(row, into: values[layer] + offset, count: d, half: half)
                }
            }
        }
    }

    /// Byte offset of (kvHead, position) inside a layer's keys or values.
    @inline(__always) func slot(kvHead: Int, position: Int) -> Int {
        (kvHead * capacity + position) * layout.headDim * layout.elementBytes
    }

    @inline(__always)
    private static func store(_ source: UnsafePointer<Float>, into target: UnsafeMutableRawPointer, count: Int, half: Bool) {
        if half {
            AttentionKernels.storeFloat16(source, into: target, count: count)
        } else {
            target.assumingMemoryBound(to: Float.self).update(from: source, count: count)
        }
    }
}
