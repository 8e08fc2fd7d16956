import KataribeCKernels
import Testing
@testable import KataribeTensor

/// Batched decoding's contract at the kernel level: a row computed in a batch of rows has the bits
/// of the same row computed alone, for every weight format and instruction set.
@Suite("Row-wise products: each row as a one-row GEMV computes it")
struct RowwiseProductTests {
    static func formats() throws -> [(String, WeightMatrix)] {
        let rows = 70, columns = 576
        let values = pseudoRandom(rows * columns, seed: 3)
        let dense = try matrix(values, rows: rows, columns: columns, dtype: .float32)
        var out: [(String, WeightMatrix)] = [("f32", dense)]
        for dtype in [DType.float16, .bfloat16] { out.append(("\(dtype)", try matrix(values, rows: rows, columns: columns, dtype: dtype))) }
        // Rows wider than 4096 columns take the four-row float16/bfloat16 kernels.
        let wide = pseudoRandom(22 * 5000, seed: 4)
        for dtype in [DType.float16, .bfloat16] { out.append(("wide \(dtype)", try matrix(wide, rows: 22, columns: 5000, dtype: dtype))) }
        for format in [WeightFormat.q8, .q4] { out.append(("\(format)", try dense.converted(to: format, parallelism: .serial))) }
        for type in GGMLMatrix.supportedTypes {
            let columns = type.blockSize == 32 ? 576 : 512
            out.append(("\(type)", WeightMatrix(try randomGGMLMatrix(type, rows: rows, columns: columns, seed: 9))))
        }
        return out
    }

    func alone(_ w: WeightMatrix, _ x: [Float], n: Int, bias: [Float], parallelism: Parallelism) -> [Float] {
        var y = [Float](repeating: .nan, count: n * w.rows)
        for t in 0..<n {
            x.withUnsafeBufferPointer { xp in
                bias.withUnsafeBufferPointer { bp in
                    y.withUnsafeMutableBufferPointer { yp in
                        w.gemv(xp.baseAddress! + t * w.columns, into: yp.baseAddress! + t * w.rows, bias: bp.baseAddress!,
                               parallelism: parallelism)
                    }
                }
            }
        }
        return y
    }

    func together(_ w: WeightMatrix, _ x: [Float], n: Int, bias: [Float], parallelism: Parallelism) -> [Float] {
        var y = [Float](repeating: .nan, count: n * w.rows)
        x.withUnsafeBufferPointer { xp in
            bias.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    w.rowwiseGEMV(xp.baseAddress!, count: n, into: yp.baseAddress!, bias: bp.baseAddress!, parallelism: parallelism)
                }
            }
        }
        return y
    }

    @Test("n rows at once equal the n one-row products bit for bit (1 to 19 rows, 1 and 3 threads, every instruction set this CPU has)")
    func rowsAreIndependent() throws {
        let levels = [Int32(KC_ISA_GENERIC), Int32(KC_ISA_AVX2), Int32(KC_ISA_AVX512)].filter { $0 <= kc_isa_detected() }
        for (name, w) in try Self.formats() {
            let bias = pseudoRandom(w.rows, seed: 5)
            for level in levels {
                kc_force_isa(level)
                defer { KernelInfo.usePortableKernels(false) }
                for n in [1, 2, 5, 16, 19] {
                    let x = pseudoRandom(n * w.columns, seed: UInt64(n))
                    // Serial here: the forced instruction set is per thread.
                    let reference = alone(w, x, n: n, bias: bias, parallelism: .serial)
                    let batched = together(w, x, n: n, bias: bias, parallelism: .serial)
                    #expect(batched.map(\.bitPattern) == reference.map(\.bitPattern), "\(name), isa \(level), \(n) rows")
                }
            }
            let x = pseudoRandom(7 * w.columns, seed: 11)
            #expect(together(w, x, n: 7, bias: bias, parallelism: Parallelism(threadCount: 3)).map(\.bitPattern)
                    == alone(w, x, n: 7, bias: bias, parallelism: .serial).map(\.bitPattern), "\(name), 3 threads")
        }
        if kc_isa_detected() < Int32(KC_ISA_AVX512) {
            print("note: this CPU lacks AVX-512 VNNI; the batched Q8 kernel for it was not run (its AVX2 fallback was)")
        }
    }
}
