/// The inner loops behind `WeightMatrix`. Plain SIMD8 code with FMA; blocked so each weight
/// element loaded is used for several outputs. Each call handles a range of output rows so the
/// caller can split rows across threads.
@usableFromInline
enum MatrixKernels {
    /// `y[r] = W[r] · x (+ bias[r])` for `r` in `rows`; four rows share every load of `x`.
    @inline(__always) @usableFromInline
    static func gemvRows<E: WeightElement>(
        _ element: E.Type, _ w: UnsafeRawPointer, rowBytes: Int, columns: Int, rows: Range<Int>,
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?
    ) {
        let xr = UnsafeRawPointer(x)
        var r = rows.lowerBound
        while r + 4 <= rows.upperBound {
            let w0 = w + r &* rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var k = 0
            while k &+ 8 <= columns {
                let xv = xr.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self)
                a0.addProduct(E.load8(w0, k), xv)
                a1.addProduct(E.load8(w1, k), xv)
                a2.addProduct(E.load8(w2, k), xv)
                a3.addProduct(E.load8(w3, k), xv)
                k &+= 8
            }
            var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
            while k < columns {
                let xv = x[k]
                s0 += E.load1(w0, k) * xv
                s1 += E.load1(w1, k) * xv
                s2 += E.load1(w2, k) * xv
                s3 += E.load1(w3, k) * xv
                k &+= 1
            }
            if let bias {
                s0 += bias[r]; s1 += bias[r &+ 1]; s2 += bias[r &+ 2]; s3 += bias[r &+ 3]
            }
            y[r] = s0; y[r &+ 1] = s1; y[r &+ 2] = s2; y[r &+ 3] = s3
            r &+= 4
        }
        while r < rows.upperBound {
            y[r] = dot(E.self, w + r &* rowBytes, x, columns) + (bias?[r] ?? 0)
            r &+= 1
        }
    }

    @inline(__always) @usableFromInline
    static func dot<E: WeightElement>(_ element: E.Type, _ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var k = 0
        while k &+ 16 <= n {
            a0.addProduct(E.load8(w, k), xr.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self))
            a1.addProduct(E.load8(w, k &+ 8), xr.loadUnaligned(fromByteOffset: (k &+ 8) &* 4, as: SIMD8<Float>.self))
            k &+= 16
        }
        while k &+ 8 <= n {
            a0.addProduct(E.load8(w, k), xr.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self))
            k &+= 8
        }
        var s = (a0 + a1).sum()
        while k < n {
            s += E.load1(w, k) * x[k]
            k &+= 1
        }
        return s
    }

    /// `Y[t, r] = X[t] · W[r] (+ bias[r])` for every token `t < count` and `r` in `rows`.
    /// Up to four weight rows are widened to Float once, then each pair of tokens is multiplied
    /// against them (8 independent FMA chains), so weights are read once per call.
    @usableFromInline
    static func gemmRows<E: WeightElement>(
        _ element: E.Type, _ w: UnsafeRawPointer, rowBytes: Int, columns: Int, rows: Range<Int>,
        x: UnsafePointer<Float>, count: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
        bias: UnsafePointer<Float>?
    ) {
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 4 * columns)
        defer { scratch.deallocate() }
        var r = rows.lowerBound
        while r < rows.upperBound {
            let tile = min(4, rows.upperBound &- r)
            for i in 0..<tile {
                widen(E.self, w + (r &+ i) &* rowBytes, into: scratch + i &* columns, count: columns)
            }
            // Missing rows of a short tile alias row 0; their results are computed and dropped.
            let w0 = UnsafeRawPointer(scratch)
            let w1 = UnsafeRawPointer(scratch + (tile > 1 ? columns : 0))
            let w2 = UnsafeRawPointer(scratch + (tile > 2 ? 2 &* columns : 0))
            let w3 = UnsafeRawPointer(scratch + (tile > 3 ? 3 &* columns : 0))
            var t = 0
            while t < count {
                let hasSecond = t &+ 1 < count
                let x0 = UnsafeRawPointer(x + t &* columns)
                let x1 = hasSecond ? x0 + columns &* 4 : x0
                var a00 = SIMD8<Float>(), a10 = SIMD8<Float>(), a20 = SIMD8<Float>(), a30 = SIMD8<Float>()
                var a01 = SIMD8<Float>(), a11 = SIMD8<Float>(), a21 = SIMD8<Float>(), a31 = SIMD8<Float>()
                var k = 0
                while k &+ 8 <= columns {
                    let off = k &* 4
                    let v0 = x0.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
                    let v1 = x1.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
                    let q0 = w0.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
                    let q1 = w1.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
                    a00.addProduct(q0, v0); a01.addProduct(q0, v1)
                    a10.addProduct(q1, v0); a11.addProduct(q1, v1)
                    let q2 = w2.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
                    let q3 = w3.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
                    a20.addProduct(q2, v0); a21.addProduct(q2, v1)
                    a30.addProduct(q3, v0); a31.addProduct(q3, v1)
                    k &+= 8
                }
                var s0 = SIMD4<Float>(a00.sum(), a10.sum(), a20.sum(), a30.sum())
                var s1 = SIMD4<Float>(a01.sum(), a11.sum(), a21.sum(), a31.sum())
                while k < columns {
                    let v0 = x0.load(fromByteOffset: k &* 4, as: Float.self)
                    let v1 = x1.load(fromByteOffset: k &* 4, as: Float.self)
                    let q = SIMD4<Float>(
                        w0.load(fromByteOffset: k &* 4, as: Float.self), w1.load(fromByteOffset: k &* 4, as: Float.self),
                        w2.load(fromByteOffset: k &* 4, as: Float.self), w3.load(fromByteOffset: k &* 4, as: Float.self))
                    s0.addProduct(q, SIMD4(repeating: v0))
                    s1.addProduct(q, SIMD4(repeating: v1))
                    k &+= 1
                }
                for i in 0..<tile {
                    let b = bias?[r &+ i] ?? 0
                    y[t &* ldy &+ r &+ i] = s0[i] + b
                    if hasSecond { y[(t &+ 1) &* ldy &+ r &+ i] = s1[i] + b }
                }
                t &+= 2
            }
            r &+= tile
        }
    }

    @inline(__always) @usableFromInline
    static func widen<E: WeightElement>(_ element: E.Type, _ w: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>, count: Int) {
        let o = UnsafeMutableRawPointer(out)
        var k = 0
        while k &+ 8 <= count {
            o.storeBytes(of: E.load8(w, k), toByteOffset: k &* 4, as: SIMD8<Float>.self)
            k &+= 8
        }
        while k < count {
            out[k] = E.load1(w, k)
            k &+= 1
        }
    }
}
