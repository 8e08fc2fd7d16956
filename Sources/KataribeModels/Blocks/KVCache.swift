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
///
/// Sequences forked from one prompt share its keys and values: positions `0..<prefixLength` are
/// read from `prefix`, a cache nobody writes to any more, and this cache stores the positions
/// after it (so B samples of one prompt hold the prompt once, and each grows by its own tokens only).
public final class KVCache {
    public let layout: KVCacheLayout
    public let contextLength: Int
    /// Holds positions `0..<prefixLength`; never written once shared.
    public let prefix: KVCache?
    public let prefixLength: Int
    private(set) var keys: [UnsafeMutableRawPointer] = []
    private(set) var values: [UnsafeMutableRawPointer] = []
    /// `[queryHeads, prefixLength + capacity]` attention scores (written and read inside `Attention` only).
    private(set) var scores: UnsafeMutablePointer<Float>
    /// Positions this cache holds itself (after the prefix).
    public private(set) var capacity = 0

    public init(layout: KVCacheLayout, contextLength: Int, prefix: KVCache? = nil, prefixLength: Int = 0) {
        precondition(prefix == nil || prefixLength <= prefix!.prefixLength + prefix!.capacity, "a prefix longer than its cache")
        precondition(prefix?.prefix == nil, "a shared prefix holds its positions itself")
        self.layout = layout
        self.contextLength = contextLength
        self.prefix = prefixLength > 0 ? prefix : nil
        self.prefixLength = prefix == nil ? 0 : prefixLength
        scores = UnsafeMutablePointer<Float>.allocate(capacity: max(layout.queryHeads * self.prefixLength, 1))
    }

    deinit {
        scores.deallocate()
        for p in keys + values { p.deallocate() }
    }

    /// Room for `count` positions in all (prefix included), keeping the first `used`: exactly
    /// `count`, or by doubling (capped at the context) so that token-by-token appends copy the
    /// cache only a few times.
    public func reserve(_ count: Int, used: Int, exactly: Bool = false) {
        let ownCount = count - prefixLength, ownUsed = max(0, used - prefixLength), ownContext = contextLength - prefixLength
        guard ownCount > capacity else { return }
        var newCapacity = exactly ? ownCount : max(capacity, min(64, ownContext))
        while newCapacity < ownCount { newCapacity = min(newCapacity * 2, ownContext) }
        let heads = layout.kvHeads, d = layout.headDim, element = layout.elementBytes, oldCapacity = capacity
        func grow(_ old: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer {
            let fresh = UnsafeMutableRawPointer.allocate(byteCount: heads * newCapacity * d * element, alignment: 64)
            if let old {
                for h in 0..<heads {
                    (fresh + h * newCapacity * d * element)
                        .copyMemory(from: old + h * oldCapacity * d * element, byteCount: ownUsed * d * element)
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
        scores = UnsafeMutablePointer<Float>.allocate(capacity: max(layout.queryHeads * (prefixLength + newCapacity), 1))
        capacity = newCapacity
    }

    /// Bytes of keys and values this cache allocated itself (its prefix not counted).
    public var ownBytes: Int { 2 * layout.layers * layout.kvHeads * capacity * layout.headDim * layout.elementBytes }

    /// Writes the key and value of `kvHead` at `position` of `layer`, converting to the cache's
    /// element type.
    @inline(__always)
    public func store(layer: Int, kvHead: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        precondition(position >= prefixLength, "position \(position) is in the shared prefix")
        let offset = slot(kvHead: kvHead, position: position)
        Self.store(key, into: keys[layer] + offset, count: layout.headDim, half: layout.format == .float16)
        Self.store(value, into: values[layer] + offset, count: layout.headDim, half: layout.format == .float16)
    }

    /// A cache holding positions `0..<count` of this one (prefix included) in its own memory,
    /// with no prefix: what a sequence keeps when it is rewound into its shared prefix, or when a
    /// forked sequence is forked again.
    public func flattened(count: Int) -> KVCache {
        let copy = KVCache(layout: layout, contextLength: contextLength)
        copy.reserve(count, used: 0, exactly: true)
        let d = layout.headDim, element = layout.elementBytes, rowBytes = d * element
        for layer in 0..<layout.layers {
            for head in 0..<layout.kvHeads {
                let target = copy.slot(kvHead: head, position: 0)
                var done = 0
                if let prefix {
                    let n = min(count, prefixLength), source = prefix.slot(kvHead: head, position: 0)
                    (copy.keys[layer] + target).copyMemory(from: prefix.keys[layer] + source, byteCount: n * rowBytes)
                    (copy.values[layer] + target).copyMemory(from: prefix.values[layer] + source, byteCount: n * rowBytes)
                    done = n
                }
                if count > done {
                    let source = slot(kvHead: head, position: done)
                    (copy.keys[layer] + target + done * rowBytes).copyMemory(from: keys[layer] + source, byteCount: (count - done) * rowBytes)
                    (copy.values[layer] + target + done * rowBytes).copyMemory(from: values[layer] + source, byteCount: (count - done) * rowBytes)
                }
            }
        }
        return copy
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

    /// Byte offset of (kvHead, position) inside a layer's own keys or values (`position` counts
    /// from the start of the sequence and lies after the prefix).
    @inline(__always) func slot(kvHead: Int, position: Int) -> Int {
        (kvHead * capacity + position - prefixLength) * layout.headDim * layout.elementBytes
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
