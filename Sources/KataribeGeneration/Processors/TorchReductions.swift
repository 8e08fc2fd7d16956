/// Float32 sums in the association order of torch's CPU kernels, so that values such as the
/// entropy in `TypicalWarper` round exactly as in the reference. Orders are those of torch 2.x on
/// an AVX2 machine running one intra-op thread (torch splits rows longer than 32768 across threads,
/// which makes its own result depend on the thread count).
enum TorchReductions {
    /// `torch.sum`/`nansum` over one contiguous float32 row (ATen's cascade sum: 8-lane vectors,
    /// four interleaved rows, four accumulation levels). Callers pass NaN-free values.
    static func cascadeSum(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        if n >= 8 {
            let units = n / 8
            var lanes = Lanes8()
            rowSum(x, units: units, width: 8, into: &lanes)
            var total: Float = 0
            for k in (units * 8)..<n { total += x[k] }
            for k in 0..<8 { total += lanes[k] }
            return total
        }
        var lanes = Lanes8()
        rowSum(x, units: n, width: 1, into: &lanes)
        return lanes[0]
    }

    /// `vec::reduce_all` with `+` (softmax / log_softmax normalisers): position p feeds lane p % 8,
    /// then the lanes combine as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)); rows shorter than 8 add up
    /// left to right. For non-negative terms (a trailing partial vector adds +0 to unused lanes).
    @inline(__always)
    static func laneSum(count n: Int, _ value: (Int) -> Float) -> Float {
        if n < 8 {
            guard n > 0 else { return 0 }
            var acc = value(0)
            for i in 1..<n { acc += value(i) }
            return acc
        }
        // Eight independent register accumulators: the same per-lane rounding as torch's AVX2 loop.
        var lanes = SIMD8<Float>(value(0), value(1), value(2), value(3), value(4), value(5), value(6), value(7))
        var p = 8
        while p + 8 <= n {
            lanes += SIMD8<Float>(value(p), value(p + 1), value(p + 2), value(p + 3),
                                  value(p + 4), value(p + 5), value(p + 6), value(p + 7))
            p += 8
        }
        if p < n {
            var tail = SIMD8<Float>(repeating: 0)
            for j in 0..<(n - p) { tail[j] = value(p + j) }
            lanes += tail
        }
        let b0 = lanes[0] + lanes[4], b1 = lanes[1] + lanes[5], b2 = lanes[2] + lanes[6], b3 = lanes[3] + lanes[7]
        return (b0 + b2) + (b1 + b3)
    }

    /// ATen's `row_sum`: `units` consecutive groups of `width` floats, read as four interleaved rows.
    private static func rowSum(_ x: UnsafePointer<Float>, units: Int, width: Int, into result: inout Lanes8) {
        // acc[level][row][lane] for 4 levels x 4 rows x 8 lanes, on the stack.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 128) { acc in
            acc.initialize(repeating: 0)
            @inline(__always) func slot(_ level: Int, _ row: Int) -> Int { (level * 4 + row) * 8 }
            let rows = units / 4
            multiRowSum(x, rows: rows, width: width, acc: acc.baseAddress!)
            for u in (rows * 4)..<units {
                for w in 0..<width { acc[w] += x[u * width + w] }
            }
            for k in 1..<4 {
                for w in 0..<width { acc[w] += acc[slot(0, k) + w] }
            }
            for w in 0..<width { result[w] = acc[w] }
        }
    }

    /// ATen's `multi_row_sum` with 4 rows: a 4-level cascade whose level size is 2^max(4, ⌈log2 n⌉/4).
    private static func multiRowSum(_ x: UnsafePointer<Float>, rows size: Int, width: Int, acc: UnsafeMutablePointer<Float>) {
        let levels = 4
        let levelPower = Swift.max(4, ceilLog2(size) / levels)
        let levelStep = 1 << levelPower
        let levelMask = levelStep - 1
        @inline(__always) func slot(_ level: Int, _ row: Int) -> Int { (level * 4 + row) * 8 }
        @inline(__always) func addRow(_ i: Int) {
            for k in 0..<4 {
                let base = (i * 4 + k) * width
                for w in 0..<width { acc[slot(0, k) + w] += x[base + w] }
            }
        }
        var i = 0
        while i + levelStep <= size {
            for _ in 0..<levelStep { addRow(i); i += 1 }
            for j in 1..<levels {
                for k in 0..<4 {
                    for w in 0..<width {
                        acc[slot(j, k) + w] += acc[slot(j - 1, k) + w]
                        acc[slot(j - 1, k) + w] = 0
                    }
                }
                if i & (levelMask << (j * levelPower)) != 0 { break }
            }
        }
        while i < size { addRow(i); i += 1 }
        for j in 1..<levels {
            for k in 0..<4 {
                for w in 0..<width { acc[slot(0, k) + w] += acc[slot(j, k) + w] }
            }
        }
    }

    private static func ceilLog2(_ x: Int) -> Int {
        x <= 1 ? 0 : Int.bitWidth - (x - 1).leadingZeroBitCount
    }
}

/// Eight float lanes (one AVX2 register's worth).
struct Lanes8 {
    private var v: (Float, Float, Float, Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0, 0, 0, 0)
    subscript(i: Int) -> Float {
        get { withUnsafeBytes(of: v) { $0.load(fromByteOffset: i * 4, as: Float.self) } }
        set { withUnsafeMutableBytes(of: &v) { $0.storeBytes(of: newValue, toByteOffset: i * 4, as: Float.self) } }
    }
}
