/// An order on (score, vocabulary id) pairs for the sorts and selections below.
protocol PairOrdering {
    static func less(_ a: Float, _ aID: Int32, _ b: Float, _ bID: Int32) -> Bool
}

/// torch's CPU `sort(descending=False)` comparator: by value only, NaN last. Equal values are left
/// in whatever order the sort algorithm produces, which is why `PairSort` reproduces libstdc++.
enum TorchAscending: PairOrdering {
    @inline(__always)
    static func less(_ a: Float, _ aID: Int32, _ b: Float, _ bID: Int32) -> Bool {
        (!a.isNaN && b.isNaN) || a < b
    }
}

/// Ascending by value, then by id: a total order (ids are distinct), so any sort gives one result.
enum AscendingThenID: PairOrdering {
    @inline(__always)
    static func less(_ a: Float, _ aID: Int32, _ b: Float, _ bID: Int32) -> Bool {
        a < b || (a == b && aID < bID)
    }
}

/// In-place sort of parallel (key, id) buffers that follows libstdc++'s `std::sort` step for step
/// (introsort: median-of-three pivot to the front, unguarded Hoare partition, 16-element cutoff,
/// heapsort below depth 2·⌊log2 n⌋, then one insertion-sort pass). torch sorts a CPU row with
/// `std::sort` on (value, index) pairs, so with `TorchAscending` this yields exactly torch's
/// order for tied values, which top-p needs when a tie straddles its cut.
enum PairSort<Order: PairOrdering> {
    static func sort(keys: UnsafeMutablePointer<Float>, ids: UnsafeMutablePointer<Int32>, count: Int) {
        guard count > 1 else { return }
        var s = Sorter(keys: keys, ids: ids)
        s.introsortLoop(0, count, depthLimit: 2 * (Int.bitWidth - 1 - count.leadingZeroBitCount))
        s.finalInsertionSort(0, count)
    }

    private struct Sorter {
        let keys: UnsafeMutablePointer<Float>
        let ids: UnsafeMutablePointer<Int32>
        static var threshold: Int { 16 }

        @inline(__always) func less(_ i: Int, _ j: Int) -> Bool { Order.less(keys[i], ids[i], keys[j], ids[j]) }
        @inline(__always) func swapAt(_ i: Int, _ j: Int) {
            let k = keys[i]; keys[i] = keys[j]; keys[j] = k
            let d = ids[i]; ids[i] = ids[j]; ids[j] = d
        }
        @inline(__always) func move(_ from: Int, to: Int) { keys[to] = keys[from]; ids[to] = ids[from] }

        mutating func introsortLoop(_ first: Int, _ lastIn: Int, depthLimit depthIn: Int) {
            var last = lastIn
            var depth = depthIn
            while last - first > Self.threshold {
                if depth == 0 {
                    heapSort(first, last)
                    return
                }
                depth -= 1
                let cut = partitionPivot(first, last)
                introsortLoop(cut, last, depthLimit: depth)
                last = cut
            }
        }

        func partitionPivot(_ first: Int, _ last: Int) -> Int {
            let mid = first + (last - first) / 2
            moveMedianToFirst(first, first + 1, mid, last - 1)
            return unguardedPartition(first + 1, last, pivot: first)
        }

        func moveMedianToFirst(_ result: Int, _ a: Int, _ b: Int, _ c: Int) {
            if less(a, b) {
                if less(b, c) { swapAt(result, b) }
                else if less(a, c) { swapAt(result, c) }
                else { swapAt(result, a) }
            } else if less(a, c) { swapAt(result, a) }
            else if less(b, c) { swapAt(result, c) }
            else { swapAt(result, b) }
        }

        func unguardedPartition(_ firstIn: Int, _ lastIn: Int, pivot: Int) -> Int {
            var first = firstIn
            var last = lastIn
            while true {
                while less(first, pivot) { first += 1 }
                last -= 1
                while less(pivot, last) { last -= 1 }
                if !(first < last) { return first }
                swapAt(first, last)
                first += 1
            }
        }

        func finalInsertionSort(_ first: Int, _ last: Int) {
            if last - first > Self.threshold {
                insertionSort(first, first + Self.threshold)
                for i in (first + Self.threshold)..<last { unguardedLinearInsert(i) }
            } else {
                insertionSort(first, last)
            }
        }

        func insertionSort(_ first: Int, _ last: Int) {
            guard last - first > 1 else { return }
            for i in (first + 1)..<last {
                if less(i, first) {
                    let k = keys[i], d = ids[i]
                    var j = i
                    while j > first { move(j - 1, to: j); j -= 1 }
                    keys[first] = k; ids[first] = d
                } else {
                    unguardedLinearInsert(i)
                }
            }
        }

        func unguardedLinearInsert(_ position: Int) {
            let k = keys[position], d = ids[position]
            var last = position
            var next = position - 1
            while Order.less(k, d, keys[next], ids[next]) {
                move(next, to: last)
                last = next
                next -= 1
            }
            keys[last] = k; ids[last] = d
        }

        // libstdc++'s __partial_sort(first, last, last): make_heap then sort_heap.
        func heapSort(_ first: Int, _ lastIn: Int) {
            let length = lastIn - first
            if length >= 2 {
                var parent = (length - 2) / 2
                while true {
                    adjustHeap(first, hole: parent, length: length, key: keys[first + parent], id: ids[first + parent])
                    if parent == 0 { break }
                    parent -= 1
                }
            }
            var last = lastIn
            while last - first > 1 {
                last -= 1
                let k = keys[last], d = ids[last]
                move(first, to: last)
                adjustHeap(first, hole: 0, length: last - first, key: k, id: d)
            }
        }

        func adjustHeap(_ first: Int, hole holeIn: Int, length: Int, key: Float, id: Int32) {
            let top = holeIn
            var hole = holeIn
            var second = holeIn
            while second < (length - 1) / 2 {
                second = 2 * (second + 1)
                if less(first + second, first + second - 1) { second -= 1 }
                move(first + second, to: first + hole)
                hole = second
            }
            if length & 1 == 0, second == (length - 2) / 2 {
                second = 2 * (second + 1)
                move(first + second - 1, to: first + hole)
                hole = second - 1
            }
            var parent = (hole - 1) / 2
            while hole > top, Order.less(keys[first + parent], ids[first + parent], key, id) {
                move(first + parent, to: first + hole)
                hole = parent
                parent = (hole - 1) / 2
            }
            keys[first + hole] = key; ids[first + hole] = id
        }
    }
}

/// Moves the `count` largest pairs (under `Order`, which must be total) to the end of the buffers,
/// in no particular order: quickselect, expected O(n).
enum PairSelect<Order: PairOrdering> {
    static func moveLargestToEnd(keys: UnsafeMutablePointer<Float>, ids: UnsafeMutablePointer<Int32>, total: Int, count: Int) {
        guard count > 0, count < total else { return }
        let target = total - count  // everything at or after `target` ends up >= everything before it
        var lo = 0
        var hi = total - 1
        func swapAt(_ i: Int, _ j: Int) {
            let k = keys[i]; keys[i] = keys[j]; keys[j] = k
            let d = ids[i]; ids[i] = ids[j]; ids[j] = d
        }
        func less(_ i: Int, _ j: Int) -> Bool { Order.less(keys[i], ids[i], keys[j], ids[j]) }
        while lo < hi {
            // median of three to `hi` as the pivot, then a Lomuto partition (keys are distinct).
            let mid = lo + (hi - lo) / 2
            if less(mid, lo) { swapAt(mid, lo) }
            if less(hi, lo) { swapAt(hi, lo) }
            if less(mid, hi) { swapAt(mid, hi) }
            var store = lo
            for i in lo..<hi where less(i, hi) {
                swapAt(i, store)
                store += 1
            }
            swapAt(store, hi)
            if store == target { return }
            if store < target { lo = store + 1 } else { hi = store - 1 }
        }
    }
}
