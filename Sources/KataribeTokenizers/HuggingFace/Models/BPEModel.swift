/// `BPE`: characters (or bytes, after `ByteLevel`) are merged pairwise by merge rank, lowest rank
/// first and leftmost on ties, exactly as `Word::merge_all` does; unknown characters become
/// `<0xXX>` tokens with `byte_fallback`, the unknown token (fused or not) with `unk_token`, or are
/// dropped. Words are cached.
struct BPEModel: HFModel {
    let vocabulary: BytesMap
    let tokens: [[UInt8]?]
    let tokenStrings: [String?]
    /// (left id << 32 | right id) -> (rank << 32 | new id).
    let merges: IntegerMap
    let unknownToken: [UInt8]?
    let continuingSubwordPrefix: [UInt8]?
    let endOfWordSuffix: [UInt8]?
    let fuseUnknown: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    /// The id of each byte's byte-level alphabet character, when all 256 are in the vocabulary.
    let byteLevelIDs: [Int32]?
    /// The id of `<0xXX>` for each byte, -1 when absent.
    let byteFallbackIDs: [Int32]
    let cache = WordCache()

    var vocabularyCount: Int { vocabulary.count }

    func tokenToID(_ token: [UInt8]) -> Int? { vocabulary[token].map(Int.init) }
    func idToToken(_ id: Int) -> [UInt8]? { id >= 0 && id < tokens.count ? tokens[id] : nil }

    private func piece(_ id: Int) -> String { id < tokenStrings.count ? tokenStrings[id] ?? "" : "" }

    func tokenize(_ splits: SplitList, into output: inout EncodingOutput) {
        cache.withAccess { cache in
            splits.buffer.withUnsafeBufferPointer { buffer in
                var scratch = BPEScratch()
                for split in splits.splits {
                    let word = UnsafeBufferPointer(rebasing: buffer[split.start..<split.end])
                    let first = output.ids.count
                    if let cache, cache.lookup(word, into: &output.ids) {
                        if output.collectPieces { for id in output.ids[first...] { output.pieces.append(piece(id)) } }
                        continue
                    }
                    if splits.byteLevel {
                        tokenizeByteLevel(word, scratch: &scratch, into: &output.ids)
                    } else {
                        tokenizeText(word, scratch: &scratch, into: &output.ids)
                    }
                    cache?.store(word, ids: output.ids[first...])
                    if output.collectPieces { for id in output.ids[first...] { output.pieces.append(piece(id)) } }
                }
            }
        }
    }

    /// Byte-level words: each byte's alphabet character is one initial symbol.
    private func tokenizeByteLevel(_ word: UnsafeBufferPointer<UInt8>, scratch: inout BPEScratch, into ids: inout [Int]) {
        guard let byteLevelIDs, continuingSubwordPrefix == nil, endOfWordSuffix == nil, !ignoreMerges else {
            let mapped = ByteLevelAlphabet.encode(word)
            mapped.withUnsafeBufferPointer { tokenizeText($0, scratch: &scratch, into: &ids) }
            return
        }
        scratch.reset()
        for byte in word { scratch.add(byteLevelIDs[Int(byte)], length: 1) }
        scratch.mergeAll(merges)
        scratch.appendIDs(to: &ids)
    }

    /// Text words: each scalar (with prefix/suffix decoration) is an initial symbol.
    private func tokenizeText(_ word: UnsafeBufferPointer<UInt8>, scratch: inout BPEScratch, into ids: inout [Int]) {
        if ignoreMerges, let id = vocabulary.get(word) {
            ids.append(Int(id))
            return
        }
        scratch.reset()
        var unknown: (id: Int32, length: Int)?
        var i = 0
        var key: [UInt8] = []
        while i < word.count {
            let length = min(UTF8Bytes.sequenceLength(lead: word[i]), word.count - i)
            let isFirst = i == 0, isLast = i + length == word.count
            key.removeAll(keepingCapacity: true)
            if !isFirst, let prefix = continuingSubwordPrefix { key.append(contentsOf: prefix) }
            key.append(contentsOf: word[i..<(i + length)])
            if isLast, let suffix = endOfWordSuffix { key.append(contentsOf: suffix) }
            if let id = key.withUnsafeBufferPointer({ vocabulary.get($0) }) {
                if let pending = unknown {
                    scratch.add(pending.id, length: pending.length)
                    unknown = nil
                }
                scratch.add(id, length: length)
            } else if byteFallback, key.allSatisfy({ byteFallbackIDs[Int($0)] >= 0 }) {
                for byte in key { scratch.add(byteFallbackIDs[Int(byte)], length: 1) }
            } else if let unknownToken, let unknownID = vocabulary[unknownToken] {
                if let pending = unknown {
                    if fuseUnknown {
                        unknown = (pending.id, pending.length + length)
                    } else {
                        scratch.add(pending.id, length: pending.length)
                        unknown = (unknownID, length)
                    }
                } else {
                    unknown = (unknownID, length)
                }
            }
            i += length
        }
        if let pending = unknown { scratch.add(pending.id, length: pending.length) }
        scratch.mergeAll(merges)
        scratch.appendIDs(to: &ids)
    }
}

/// Reusable symbol list and heap for `Word::merge_all`.
struct BPEScratch {
    private var ids: [Int32] = []
    private var lengths: [Int32] = []
    private var previous: [Int32] = []
    private var next: [Int32] = []
    /// Min-heap of (rank << 32 | position), with the new id kept alongside.
    private var heap: [(key: UInt64, newID: Int32)] = []

    mutating func reset() {
        ids.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
    }

    mutating func add(_ id: Int32, length: Int) {
        let index = Int32(ids.count)
        if index > 0 { next[Int(index) - 1] = index }
        ids.append(id)
        lengths.append(Int32(length))
        previous.append(index - 1)
        next.append(-1)
    }

    private mutating func push(_ key: UInt64, _ newID: Int32) {
        heap.append((key, newID))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) >> 1
            if heap[parent].key <= heap[child].key { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func pop() -> (key: UInt64, newID: Int32) {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            let count = heap.count
            while true {
                let left = 2 * parent + 1
                if left >= count { break }
                var smallest = left
                if left + 1 < count && heap[left + 1].key < heap[left].key { smallest = left + 1 }
                if heap[parent].key <= heap[smallest].key { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }

    @inline(__always)
    private func lookup(_ merges: IntegerMap, _ left: Int32, _ right: Int32) -> UInt64? {
        merges.get(UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right)))
    }

    mutating func mergeAll(_ merges: IntegerMap) {
        guard ids.count > 1 else { return }
        for position in 0..<(ids.count - 1) {
            if let merge = lookup(merges, ids[position], ids[position + 1]) {
                push((merge >> 32) << 32 | UInt64(position), Int32(truncatingIfNeeded: merge))
            }
        }
        while !heap.isEmpty {
            let top = pop()
            let position = Int(top.key & 0xFFFF_FFFF)
            if lengths[position] == 0 { continue }
            let right = Int(next[position])
            if right < 0 { continue }
            // Stale entry: the pair at this position no longer merges into this token.
            guard let current = lookup(merges, ids[position], ids[right]), Int32(truncatingIfNeeded: current) == top.newID else { continue }
            ids[position] = top.newID
            lengths[position] += lengths[right]
            next[position] = next[right]
            lengths[right] = 0
            if next[right] >= 0 { previous[Int(next[right])] = Int32(position) }
            let before = Int(previous[position])
            if before >= 0, let merge = lookup(merges, ids[before], ids[position]) {
                push((merge >> 32) << 32 | UInt64(before), Int32(truncatingIfNeeded: merge))
            }
            let after = Int(next[position])
            if after >= 0, let merge = lookup(merges, ids[position], ids[after]) {
                push((merge >> 32) << 32 | UInt64(position), Int32(truncatingIfNeeded: merge))
            }
        }
    }

    func appendIDs(to output: inout [Int]) {
        guard !ids.isEmpty else { return }
        var index = 0
        while index >= 0 {
            output.append(Int(ids[index]))
            index = Int(next[index])
        }
    }
}
