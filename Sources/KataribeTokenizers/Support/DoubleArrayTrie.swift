/// A byte trie in double-array form (base/check), built once from a key set. One transition is
/// two array loads, which is what makes Viterbi over every byte position of a corpus fast.
struct DoubleArrayTrie: Sendable {
    /// `base[node] + byte` is the slot of the child labelled `byte`, valid when `check[slot] == node`.
    private var base: [Int32]
    private var check: [Int32]
    /// The value stored at a node whose path is a complete key, or -1.
    private var values: [Int32]

    static let root: Int32 = 0

    /// Builds the trie. Keys must be distinct and non-empty; `values[i]` is stored for `keys[i]`.
    init(keys: [[UInt8]], values keyValues: [Int32]) {
        precondition(keys.count == keyValues.count)
        let order = keys.indices.sorted { keys[$0].lexicographicallyPrecedes(keys[$1]) }
        var builder = Builder()
        builder.build(keys: order.map { keys[$0] }, values: order.map { keyValues[$0] })
        base = builder.base
        check = builder.check
        values = builder.values
    }

    /// The child of `node` labelled `byte`, or -1.
    @inline(__always)
    func child(_ node: Int32, _ byte: UInt8) -> Int32 {
        base.withUnsafeBufferPointer { base in
            check.withUnsafeBufferPointer { check in
                let slot = Int(base[Int(node)]) + Int(byte)
                guard slot >= 0, slot < check.count, check[slot] == node else { return -1 }
                return Int32(slot)
            }
        }
    }

    @inline(__always)
    func value(_ node: Int32) -> Int32 { values[Int(node)] }

    /// The value of an exact key, or nil.
    func lookup<C: Collection>(_ key: C) -> Int32? where C.Element == UInt8 {
        var node = Self.root
        for byte in key {
            node = child(node, byte)
            if node < 0 { return nil }
        }
        let value = values[Int(node)]
        return value >= 0 ? value : nil
    }

    /// Calls `body(length, value)` for every key that is a prefix of `bytes[start...]`, shortest first.
    @inline(__always)
    func forEachPrefix(of bytes: UnsafeBufferPointer<UInt8>, from start: Int, _ body: (Int, Int32) -> Void) {
        base.withUnsafeBufferPointer { base in
            check.withUnsafeBufferPointer { check in
                values.withUnsafeBufferPointer { values in
                    var node: Int32 = Self.root
                    var i = start
                    while i < bytes.count {
                        let slot = Int(base[Int(node)]) + Int(bytes[i])
                        guard slot >= 0, slot < check.count, check[slot] == node else { return }
                        node = Int32(slot)
                        i += 1
                        let value = values[slot]
                        if value >= 0 { body(i - start, value) }
                    }
                }
            }
        }
    }

    /// The longest key that is a prefix of `bytes[start...]`: (length, value), or nil.
    func longestPrefix(of bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> (length: Int, value: Int32)? {
        var best: (Int, Int32)?
        forEachPrefix(of: bytes, from: start) { length, value in best = (length, value) }
        return best
    }

    private struct Builder {
        var base: [Int32] = [0]
        var check: [Int32] = [-1]
        var values: [Int32] = [-1]
        /// Free slots form a doubly linked list (slot 0, the root, is its sentinel head) so the
        /// search for a base only visits free slots.
        var nextFree: [Int32] = [0]
        var previousFree: [Int32] = [0]

        mutating func ensureCapacity(_ size: Int) {
            guard size > check.count else { return }
            let oldSize = check.count
            let newSize = max(size, oldSize * 2)
            base.append(contentsOf: repeatElement(0, count: newSize - oldSize))
            check.append(contentsOf: repeatElement(-1, count: newSize - oldSize))
            values.append(contentsOf: repeatElement(-1, count: newSize - oldSize))
            nextFree.append(contentsOf: repeatElement(0, count: newSize - oldSize))
            previousFree.append(contentsOf: repeatElement(0, count: newSize - oldSize))
            // Append the new slots to the end of the free list.
            var last = Int(previousFree[0])
            for slot in oldSize..<newSize {
                nextFree[last] = Int32(slot)
                previousFree[slot] = Int32(last)
                last = slot
            }
            nextFree[last] = 0
            previousFree[0] = Int32(last)
        }

        mutating func occupy(_ slot: Int, parent: Int32) {
            check[slot] = parent
            let next = Int(nextFree[slot]), previous = Int(previousFree[slot])
            nextFree[previous] = Int32(next)
            previousFree[next] = Int32(previous)
        }

        mutating func build(keys: [[UInt8]], values keyValues: [Int32]) {
            check[0] = -2  // the root is occupied
            ensureCapacity(1024)
            // Work items: (node, depth, key range) for the keys sharing the node's path.
            var stack: [(node: Int32, depth: Int, lower: Int, upper: Int)] = [(0, 0, 0, keys.count)]
            var labels: [UInt8] = []
            var starts: [Int] = []
            while let (node, depth, lower, upper) = stack.popLast() {
                var index = lower
                if index < upper, keys[index].count == depth {
                    values[Int(node)] = keyValues[index]
                    index += 1
                }
                guard index < upper else { continue }
                labels.removeAll(keepingCapacity: true)
                starts.removeAll(keepingCapacity: true)
                for k in index..<upper {
                    let label = keys[k][depth]
                    if labels.last != label {
                        labels.append(label)
                        starts.append(k)
                    }
                }
                starts.append(upper)
                let nodeBase = findBase(labels)
                base[Int(node)] = Int32(nodeBase)
                for label in labels { occupy(nodeBase + Int(label), parent: node) }
                for (i, label) in labels.enumerated().reversed() {
                    stack.append((Int32(nodeBase + Int(label)), depth + 1, starts[i], starts[i + 1]))
                }
            }
        }

        mutating func findBase(_ labels: [UInt8]) -> Int {
            let first = Int(labels[0])
            var slot = Int(nextFree[0])
            while true {
                if slot == 0 {
                    // Free list exhausted: grow, then continue from the first new slot.
                    let oldSize = check.count
                    ensureCapacity(oldSize + 512)
                    slot = oldSize
                }
                let candidate = slot - first
                if candidate >= 1 {
                    ensureCapacity(candidate + 257)
                    var fits = true
                    for label in labels.dropFirst() where check[candidate + Int(label)] != -1 {
                        fits = false
                        break
                    }
                    if fits { return candidate }
                }
                slot = Int(nextFree[slot])
            }
        }
    }
}
