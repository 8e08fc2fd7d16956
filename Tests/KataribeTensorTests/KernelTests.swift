import Foundation
import KataribeCKernels
import Testing
@testable import KataribeTensor

@Suite("Vector math and attention kernels")
struct KernelTests {
    @Test("vectorised GELU matches libm's erf/tanh definitions within 2e-6", arguments: Activation.allCases)
    func gelu(activation: Activation) {
        let inputs = (0..<4001).map { Float($0 - 2000) / 250 } + [-30, -9, 0, 9, 30]
        for portable in [false, true] {
            KernelInfo.usePortableKernels(portable)
            var values = inputs
            values.withUnsafeMutableBufferPointer { activation.apply($0.baseAddress!, count: $0.count) }
            KernelInfo.usePortableKernels(false)
            let worst = zip(inputs, values).map { abs(activation.reference($0) - $1) }.max() ?? .infinity
            #expect(worst < 2e-6, "\(activation) portable=\(portable): \(worst)")
        }
    }

    @Test("softmax matches a double-precision softmax and sums to 1, with large and -inf-free inputs")
    func softmax() {
        for count in [1, 7, 8, 100, 1025] {
            let inputs = pseudoRandom(count, seed: UInt64(count)).map { $0 * 40 }
            for portable in [false, true] {
                KernelInfo.usePortableKernels(portable)
                var values = inputs
                values.withUnsafeMutableBufferPointer { VectorOps.softmax($0.baseAddress!, count: count) }
                KernelInfo.usePortableKernels(false)
                let maximum = Double(inputs.max()!)
                let total = inputs.reduce(0.0) { $0 + exp(Double($1) - maximum) }
                let worst = zip(inputs, values).map { abs(exp(Double($0) - maximum) / total - Double($1)) }.max() ?? .infinity
                #expect(worst < 1e-6)
                #expect(abs(values.reduce(0, +) - 1) < 1e-5)
            }
        }
    }

    @Test("exp is within 2e-7 relative over the float range")
    func exponential() {
        let inputs = (0..<2001).map { Float($0 - 1000) * 0.087 }
        var out = [Float](repeating: 0, count: inputs.count)
        kc_exp(inputs, &out, inputs.count)
        for (x, y) in zip(inputs, out) where x > -87 {
            #expect(abs(Double(y) / exp(Double(x)) - 1) < 2e-7, "exp(\(x))")
        }
    }

    @Test("attention scores and weighted values match a direct computation for float32 and float16 caches")
    func attention() {
        let dim = 72, count = 37
        let q = pseudoRandom(dim, seed: 1), keys = pseudoRandom(dim * count, seed: 2), values = pseudoRandom(dim * count, seed: 3)
        let p = pseudoRandom(count, seed: 4).map { abs($0) }
        for half in [false, true] {
            let k16 = keys.map { Float16($0).bitPattern }, v16 = values.map { Float16($0).bitPattern }
            let kUsed = half ? keys.map { Float(Float16($0)) } : keys, vUsed = half ? values.map { Float(Float16($0)) } : values
            for portable in [false, true] {
                KernelInfo.usePortableKernels(portable)
                var scores = [Float](repeating: 0, count: count), out = [Float](repeating: 0, count: dim)
                if half {
                    kc_attention_scores(q, k16, 1, dim, count, 0.5, &scores)
                    kc_attention_values(p, v16, 1, dim, count, &out, 0)
                } else {
                    kc_attention_scores(q, keys, 0, dim, count, 0.5, &scores)
                    kc_attention_values(p, values, 0, dim, count, &out, 0)
                }
                KernelInfo.usePortableKernels(false)
                for j in 0..<count {
                    let expected = (0..<dim).reduce(0.0) { $0 + Double(q[$1]) * Double(kUsed[j * dim + $1]) } * 0.5
                    #expect(abs(Double(scores[j]) - expected) < 1e-5)
                }
                for c in 0..<dim {
                    let expected = (0..<count).reduce(0.0) { $0 + Double(p[$1]) * Double(vUsed[$1 * dim + c]) }
                    #expect(abs(Double(out[c]) - expected) < 1e-5)
                }
            }
        }
    }

    @Test("weighted values summed over two segments (a shared prefix, then a sequence's own cache) equal one call bit for bit")
    func attentionValuesInSegments() {
        let dim = 72, count = 45, split = 29
        let values = pseudoRandom(dim * count, seed: 5), p = pseudoRandom(count, seed: 6).map { abs($0) }
        let v16 = values.map { Float16($0).bitPattern }
        for half in [false, true] {
            for portable in [false, true] {
                KernelInfo.usePortableKernels(portable)
                var whole = [Float](repeating: 0, count: dim), parts = [Float](repeating: 9, count: dim)
                if half {
                    kc_attention_values(p, v16, 1, dim, count, &whole, 0)
                    kc_attention_values(p, v16, 1, dim, split, &parts, 0)
                    v16.withUnsafeBufferPointer { v in
                        p.withUnsafeBufferPointer { kc_attention_values($0.baseAddress! + split, v.baseAddress! + split * dim, 1, dim, count - split, &parts, 1) }
                    }
                } else {
                    kc_attention_values(p, values, 0, dim, count, &whole, 0)
                    kc_attention_values(p, values, 0, dim, split, &parts, 0)
                    values.withUnsafeBufferPointer { v in
                        p.withUnsafeBufferPointer { kc_attention_values($0.baseAddress! + split, v.baseAddress! + split * dim, 0, dim, count - split, &parts, 1) }
                    }
                }
                KernelInfo.usePortableKernels(false)
                #expect(whole.map(\.bitPattern) == parts.map(\.bitPattern), "half \(half), portable \(portable)")
            }
        }
    }

    @Test("float16 rounding matches Swift's Float16 conversion, including subnormals, overflow and NaN")
    func halfRounding() {
        var inputs: [Float] = [0, -0.0, 1, 65504, 65519, 65520, 1e-8, 5.9604645e-8, 2.9802322e-8, 6.1035156e-5, .infinity, -.infinity]
        inputs += pseudoRandom(500, seed: 7).map { $0 * 1000 } + pseudoRandom(500, seed: 8).map { $0 * 1e-5 }
        for portable in [false, true] {
            KernelInfo.usePortableKernels(portable)
            var out = [UInt16](repeating: 0, count: inputs.count)
            kc_f32_to_f16(inputs, &out, inputs.count)
            var back = [Float](repeating: 0, count: inputs.count)
            kc_f16_to_f32(out, &back, out.count)
            KernelInfo.usePortableKernels(false)
            #expect(out == inputs.map { Float16($0).bitPattern }, "portable=\(portable)")
            #expect(back == inputs.map { Float(Float16($0)) })
        }
        var nan: [UInt16] = [0]
        kc_f32_to_f16([Float.nan], &nan, 1)
        #expect(Float16(bitPattern: nan[0]).isNaN)
    }
}

    @Test("the prompt GEMM packs tokens the same with the AVX2 transpose as with the portable copy, for ragged token counts and widths")
    func gemmPackingMatchesPortable() {
        let tokens = 35, widest = 1031
        let x = pseudoRandom(tokens * widest, seed: 41)
        for (n, columns) in [(1, 8), (7, 13), (8, 8), (8, 15), (9, 640), (16, 1), (35, 1031)] {
            func packed(portable: Bool) -> [Float] {
                var out = [Float](repeating: .nan, count: Int(kc_gemm_packed_x_count(n, columns)))
                KernelInfo.usePortableKernels(portable)
                defer { KernelInfo.usePortableKernels(false) }
                kc_gemm_pack_x(x, n, columns, &out)
                return out
            }
            let portable = packed(portable: true)
            #expect(packed(portable: false).map(\.bitPattern) == portable.map(\.bitPattern), "\(n) tokens × \(columns)")
            // [group][column][token in group], zeros past the last token
            #expect(portable[(n - 1) / 8 * columns * 8 + (columns - 1) * 8 + (n - 1) % 8] == x[(n - 1) * columns + columns - 1])
        }
    }

@Suite("Thread pool")
struct ParallelTests {
    final class Counter: @unchecked Sendable {
        let lock = NSLock()
        var seen: [Int] = []
        func add(_ value: Int) { lock.lock(); seen.append(value); lock.unlock() }
    }

    @Test("every task runs exactly once for any thread count, including more threads than tasks")
    func everyTaskOnce() {
        for threads in [1, 2, 3, 8] {
            for count in [0, 1, 5, 100, 1000] {
                let counter = Counter()
                Parallelism(threadCount: threads).forEach(count) { counter.add($0) }
                #expect(counter.seen.sorted() == Array(0..<count))
            }
        }
    }

    @Test("chunks cover the range without overlap and respect the granularity")
    func chunks() {
        let counter = Counter()
        Parallelism(threadCount: 4).forEachChunk(of: 1001, minimumChunk: 10, granularity: 6) { range in
            #expect(range.lowerBound % 6 == 0)
            for i in range { counter.add(i) }
        }
        #expect(counter.seen.sorted() == Array(0..<1001))
    }

    @Test("nested regions and concurrent callers run every task (serially when the pool is busy)")
    func nestedAndConcurrent() async {
        let counter = Counter()
        Parallelism(threadCount: 3).forEach(4) { outer in
            Parallelism(threadCount: 3).forEach(5) { inner in counter.add(outer * 10 + inner) }
        }
        var expected: [Int] = []
        for outer in 0..<4 { for inner in 0..<5 { expected.append(outer * 10 + inner) } }
        #expect(counter.seen.sorted() == expected)

        let results = await withTaskGroup(of: Int.self) { group in
            for caller in 0..<6 {
                group.addTask {
                    let local = Counter()
                    Parallelism(threadCount: 2).forEach(200) { local.add($0) }
                    return local.seen.sorted() == Array(0..<200) ? caller : -1
                }
            }
            var done: [Int] = []
            for await value in group { done.append(value) }
            return done.sorted()
        }
        #expect(results == Array(0..<6))
    }
}
