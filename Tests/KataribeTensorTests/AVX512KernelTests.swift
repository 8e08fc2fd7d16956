import Foundation
import KataribeCKernels
import KataribeTestSupport
import Testing
@testable import KataribeTensor

/// The AVX-512 kernels (F/BW/VL, VNNI, BF16) against the portable or AVX2 paths they replace.
/// Each test runs only where the CPU has the instructions and says so where it does not.
@Suite("AVX-512 kernels")
struct AVX512KernelTests {
    static var hasAVX512: Bool { kc_isa_detected() >= Int32(KC_ISA_AVX512) }

    func skipped(_ what: String) -> Bool {
        guard Self.hasAVX512 else {
            print("note: skipped \(what): this CPU lacks AVX-512 F/BW/VL + VNNI")
            return true
        }
        return false
    }

    /// Runs `body` with the kernels capped at `level` on this thread.
    func at<T>(_ level: Int32, _ body: () throws -> T) rethrows -> T {
        kc_force_isa(level)
        defer { KernelInfo.usePortableKernels(false) }
        return try body()
    }

    @Test("the Q4 GEMV on AVX-512 VNNI gives the AVX2 kernel's bits (ragged widths, rows in fours)")
    func q4GEMVMatchesAVX2() throws {
        guard !skipped("the AVX-512 Q4 GEMV") else { return }
        for (rowCount, columns) in [(8, 256), (12, 300), (16, 2048), (20, 5000)] {
            let w = try quantized(weightLike(rowCount * columns, seed: 21), rows: rowCount, columns: columns, .q4)
            let x = pseudoRandom(columns, seed: 22), bias = pseudoRandom(rowCount, seed: 23)
            let wide = at(Int32(KC_ISA_AVX512)) { product(w, x, n: 1, bias: bias, parallelism: .serial) }
            let narrow = at(Int32(KC_ISA_AVX2)) { product(w, x, n: 1, bias: bias, parallelism: .serial) }
            #expect(wide.map(\.bitPattern) == narrow.map(\.bitPattern), "\(rowCount)x\(columns)")
        }
    }

    @Test("the AVX-512 Q4 GEMV gives the same bits with activations regrouped once per product or on each call")
    func q4RegroupedOnceOrPerCall() throws {
        guard !skipped("the AVX-512 Q4 GEMV") else { return }
        let rowCount = 12, columns = 1000
        let w = try quantized(weightLike(rowCount * columns, seed: 61), rows: rowCount, columns: columns, .q4)
        guard case .quantized(let q) = w.storage else { Issue.record("not a quantized matrix"); return }
        let x = pseudoRandom(columns, seed: 62)
        func run(regroupedOnce: Bool) -> [Float] {
            let a = QuantizedActivations(padded: q.paddedColumns, format: regroupedOnce ? .q4 : .q8)
            defer { a.deallocate() }
            a.quantize(x, count: columns)
            var m = q.kernelMatrix, form = a.kernelForm
            var y = [Float](repeating: .nan, count: rowCount)
            at(Int32(KC_ISA_AVX512)) { kc_gemv_q4(&m, 0, rowCount, &form, &y, nil) }
            return y
        }
        #expect(run(regroupedOnce: true).map(\.bitPattern) == run(regroupedOnce: false).map(\.bitPattern))
    }

    /// kc_gemm_q_rows over all rows of a Q8/Q4 matrix for n tokens, at the current level.
    func int8GEMM(_ w: WeightMatrix, _ x: [Float], n: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: n * w.rows)
        var weights = w.kernelWeights
        let packed = UnsafeMutableRawPointer.allocate(byteCount: kc_gemm_qx_bytes(n, w.columns), alignment: 64)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: kc_gemm_qx_scratch_bytes(w.columns), alignment: 64)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: 64 * ((n + 15) / 16))
        defer { packed.deallocate(); scratch.deallocate(); c.deallocate() }
        var qx = kc_gemm_qx()
        kc_gemm_pack_qx(x, n, w.columns, packed, &qx, scratch)
        y.withUnsafeMutableBufferPointer { kc_gemm_q_rows(&weights, 0, w.rows, &qx, $0.baseAddress!, w.rows, nil, c) }
        return y
    }

    @Test("the int8 prompt GEMM: VNNI gives the portable version's bits, each token its own bits, close to the int8 GEMV",
          arguments: [WeightFormat.q8, .q4])
    func int8GEMM(format: WeightFormat) throws {
        for (rowCount, columns, n) in [(9, 300, 3), (16, 512, 16), (22, 768, 37)] {
            let w = try quantized(weightLike(rowCount * columns, seed: 31), rows: rowCount, columns: columns, format)
            let x = pseudoRandom(n * columns, seed: 32)
            let portable = at(Int32(KC_ISA_GENERIC)) { int8GEMM(w, x, n: n) }
            // Each token alone (its own group of 16) equals its lane in the batch.
            let last = Array(x[(n - 1) * columns..<n * columns])
            let alone = at(Int32(KC_ISA_GENERIC)) { int8GEMM(w, last, n: 1) }
            #expect(alone.map(\.bitPattern) == portable[(n - 1) * rowCount..<n * rowCount].map(\.bitPattern))
            // The GEMV quantizes x the same way; only float summation order differs.
            let gemv = (0..<n).flatMap { t in
                at(Int32(KC_ISA_GENERIC)) {
                    product(w, Array(x[t * columns..<(t + 1) * columns]), n: 1, bias: [Float](repeating: 0, count: rowCount),
                            parallelism: .serial)
                }
            }
            let worst = zip(portable, gemv).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
            #expect(worst < 1e-5, "\(format) \(rowCount)x\(columns) n=\(n): \(worst)")
            guard Self.hasAVX512 else { continue }
            let vnni = at(Int32(KC_ISA_AVX512)) { int8GEMM(w, x, n: n) }
            #expect(vnni.map(\.bitPattern) == portable.map(\.bitPattern), "\(format) \(rowCount)x\(columns) n=\(n)")
        }
        if !Self.hasAVX512 { print("note: skipped the VNNI int8 GEMM: this CPU lacks AVX-512 VNNI (portable version checked)") }
    }

    @Test("bfloat16 activations: prompt GEMM (AVX-512 BF16 where present), row-wise and one-row products agree with float32 math on rounded inputs")
    func bfloat16Activations() throws {
        for (rowCount, columns, n) in [(8, 64, 2), (19, 300, 5), (40, 1024, 33)] {
            var w = try matrix(pseudoRandom(rowCount * columns, seed: 41), rows: rowCount, columns: columns, dtype: .bfloat16)
            let x = pseudoRandom(n * columns, seed: 42), bias = pseudoRandom(rowCount, seed: 43)
            let rounded = x.map { Float(bitPattern: UInt32(BFloat16Rounding.bits($0)) << 16) }
            let expected = product(w, rounded, n: n, bias: bias, parallelism: .serial)  // plain float32 GEMM
            w.bfloat16Activations = true
            let prompt = product(w, x, n: n, bias: bias, parallelism: Parallelism(threadCount: 2))
            var rowwise = [Float](repeating: .nan, count: n * rowCount)
            x.withUnsafeBufferPointer { xp in
                bias.withUnsafeBufferPointer { bp in
                    rowwise.withUnsafeMutableBufferPointer { yp in
                        w.rowwiseGEMV(xp.baseAddress!, count: n, into: yp.baseAddress!, bias: bp.baseAddress!, parallelism: .serial)
                    }
                }
            }
            let oneRow = product(w, Array(x[0..<columns]), n: 1, bias: bias, parallelism: .serial)
            func worst(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity }
            #expect(worst(prompt, expected) < 1e-5, "prompt \(rowCount)x\(columns) n=\(n)")
            #expect(worst(rowwise, expected) < 1e-5, "row-wise \(rowCount)x\(columns) n=\(n)")
            #expect(worst(oneRow, Array(expected[0..<rowCount])) < 1e-5, "one row \(rowCount)x\(columns)")
        }
        if kc_gemm_bf16_available() == 0 { print("note: this CPU lacks AVX-512 BF16; bfloat16 prompts ran the float32 GEMM on rounded inputs") }
    }

    /// Tests/Fixtures/kernels/bf16-linear.json (tools/kernels/make_bf16_linear_fixture.py): torch's
    /// bfloat16 nn.Linear on the same weights and inputs, and float64 math on the rounded inputs.
    @Test("bfloat16 products equal torch: float64 math on rounded inputs within float32 summation, torch's bfloat16 Linear within its output rounding")
    func bfloat16ProductsMatchTorch() throws {
        let data = try Data(contentsOf: TestPaths.fixture("kernels/bf16-linear.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try #require(document["cases"] as? [[String: Any]])
        #expect(cases.count == 3)
        for item in cases {
            let rows = try #require(item["rows"] as? Int), columns = try #require(item["cols"] as? Int), n = try #require(item["n"] as? Int)
            func floats(_ key: String) throws -> [Float] { try #require(item[key] as? [Double]).map(Float.init) }
            let exact = try #require(item["exact"] as? [Double]), torch = try floats("torch_bf16")
            var w = try matrix(try floats("weights"), rows: rows, columns: columns, dtype: .bfloat16)
            w.bfloat16Activations = true
            let x = try floats("x"), bias = try floats("bias")
            var results = [("product", product(w, x, n: n, bias: bias, parallelism: Parallelism(threadCount: 2)))]
            if n > 1 {
                var rowwise = [Float](repeating: .nan, count: n * rows)
                x.withUnsafeBufferPointer { xp in
                    bias.withUnsafeBufferPointer { bp in
                        rowwise.withUnsafeMutableBufferPointer { yp in
                            w.rowwiseGEMV(xp.baseAddress!, count: n, into: yp.baseAddress!, bias: bp.baseAddress!, parallelism: .serial)
                        }
                    }
                }
                results.append(("row-wise", rowwise))
            }
            for (name, y) in results {
                // y[t][r] is laid out like the fixture's n × rows outputs.
                let worstExact = zip(y, exact).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? .infinity
                #expect(worstExact < 2e-5, "\(name) \(rows)x\(columns) n=\(n): \(worstExact) from float64")
                let worstTorch = zip(y, torch).map { abs($0 - $1) - (0.008 * abs($1) + 0.002) }.max() ?? .infinity
                #expect(worstTorch <= 0, "\(name) \(rows)x\(columns) n=\(n): beyond torch's bfloat16 output rounding by \(worstTorch)")
            }
        }
    }

    @Test("the AVX-512 BF16 GEMM gives the portable version's sums (same pair order)")
    func bf16GEMMMatchesPortable() throws {
        guard kc_gemm_bf16_available() != 0 else {
            print("note: skipped the AVX-512 BF16 GEMM: this CPU lacks AVX-512 BF16")
            return
        }
        // 4354 columns: 17 chunks of 256 and a ragged one.
        for (rowCount, columns, n) in [(8, 64, 1), (13, 258, 17), (24, 2048, 40), (11, 4354, 18)] {
            let w = pseudoRandom(rowCount * columns, seed: 51).map { BFloat16Rounding.bits($0) }
            let x = pseudoRandom(n * columns, seed: 52)
            func run() -> [Float] {
                var packed = [UInt16](repeating: 0, count: kc_gemm_bx_count(n, columns))
                kc_gemm_pack_bx(x, n, columns, 0, (n + 15) / 16, &packed)
                var y = [Float](repeating: .nan, count: n * rowCount)
                var scratch = [Float](repeating: 0, count: 128 * ((n + 15) / 16))
                kc_gemm_bf16_rows(w, columns, 0, rowCount, packed, n, &y, rowCount, nil, &scratch)
                return y
            }
            let fast = run()
            let portable = at(Int32(KC_ISA_GENERIC)) { run() }
            let worst = zip(fast, portable).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
            #expect(worst < 1e-6, "\(rowCount)x\(columns) n=\(n): \(worst)")
        }
    }
}

extension AVX512KernelTests {
    @Test("bfloat16 packing on AVX-512 gives the portable bits: ties to even, NaN kept quiet, odd widths, padding tokens")
    func bf16PackingMatchesPortable() throws {
        guard !skipped("AVX-512 bfloat16 packing") else { return }
        let specials: [Float] = [.nan, -.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                 .leastNonzeroMagnitude, -.leastNormalMagnitude, 0, -0.0,
                                 Float(bitPattern: 0x3f80_8000), Float(bitPattern: 0x3f81_8000), Float(bitPattern: 0x7f7f_8000)]
        for (n, columns) in [(3, 40), (17, 33), (20, 64)] {
            var x = pseudoRandom(n * columns, seed: 53).map { $0 * 1e3 }
            for (i, value) in specials.enumerated() { x[(i * 7) % x.count] = value }
            func pack() -> [UInt16] {
                var packed = [UInt16](repeating: 0xdead, count: kc_gemm_bx_count(n, columns))
                kc_gemm_pack_bx(x, n, columns, 0, (n + 15) / 16, &packed)
                return packed
            }
            let wide = at(Int32(KC_ISA_AVX512)) { pack() }, portable = at(Int32(KC_ISA_GENERIC)) { pack() }
            #expect(wide == portable, "n=\(n) cols=\(columns)")
            #expect(!portable.contains(0xdead))
        }
    }
}

/// Round to nearest even bfloat16 bits, NaN kept quiet (the kernels' rounding, written again).
enum BFloat16Rounding {
    static func bits(_ value: Float) -> UInt16 {
        let b = value.bitPattern
        if b & 0x7fff_ffff > 0x7f80_0000 { return UInt16(b >> 16) | 0x40 }
        return UInt16((b &+ 0x7fff &+ ((b >> 16) & 1)) >> 16)
    }
}
