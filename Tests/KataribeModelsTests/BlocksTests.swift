import Foundation
import Testing
import KataribeTensor
@testable import KataribeModels

/// The shared blocks every architecture is built from.
@Suite("Model blocks")
struct BlocksTests {
    /// Deterministic values in [-1, 1].
    func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(Int(state % 2001) - 1000) / 1000
        }
    }

    /// softmax(q·K/√d)·V in Double, one query head against one kv head's positions 0...last.
    func reference(query: [Float], keys: [[Float]], values: [[Float]], last: Int) -> [Double] {
        let d = query.count, scale = 1 / Double(d).squareRoot()
        let scores = (0...last).map { j in zip(query, keys[j]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } * scale }
        let top = scores.max()!
        let weights = scores.map { exp($0 - top) }
        let total = weights.reduce(0, +)
        return (0..<d).map { c in (0...last).reduce(0.0) { $0 + weights[$1] / total * Double(values[$1][c]) } }
    }

    @Test("grouped-query attention: query head h reads kv head h / (heads / kvHeads), each row up to its own position",
          arguments: [KVCacheFormat.float32, .float16])
    func groupedQueryAttention(format: KVCacheFormat) throws {
        let heads = 6, kvHeads = 2, d = 8, positions = 5
        let layout = KVCacheLayout(layers: 1, kvHeads: kvHeads, headDim: d, queryHeads: heads, format: format)
        let cache = KVCache(layout: layout, contextLength: 16)
        cache.reserve(positions, used: 0)
        var keys = [[[Float]]](repeating: [], count: kvHeads), vals = keys
        for g in 0..<kvHeads {
            for p in 0..<positions {
                var k = values(d, seed: UInt64(100 * g + p + 1)), v = values(d, seed: UInt64(1000 + 100 * g + p))
                if format == .float16 {  // what the cache keeps
                    k = k.map { Float(Float16($0)) }
                    v = v.map { Float(Float16($0)) }
                }
                keys[g].append(k)
                vals[g].append(v)
                k.withUnsafeBufferPointer { kb in
                    v.withUnsafeBufferPointer { vb in
                        cache.store(layer: 0, kvHead: g, position: p, key: kb.baseAddress!, value: vb.baseAddress!)
                    }
                }
            }
        }
        // Two rows at positions 4 and 1 (rows need not be consecutive positions).
        let rowPositions = [4, 1]
        let arena = ScratchArena(rows: 2)
        let queries = arena.rows(width: heads * d), output = arena.rows(width: heads * d)
        let q = values(2 * heads * d, seed: 7)
        queries.base.update(from: q, count: q.count)
        let attention = Attention(queryHeads: heads, kvHeads: kvHeads, headDim: d)
        attention(Attention.Queries(base: queries.base, rowStride: heads * d, headStride: d),
                  step: ForwardStep(nextTokens: [0, 0], positions: rowPositions, caches: [cache, cache]), layer: 0, into: output,
                  parallelism: .serial)
        for (row, position) in rowPositions.enumerated() {
            for head in 0..<heads {
                let g = head / (heads / kvHeads)
                let query = Array(q[(row * heads * d + head * d)..<(row * heads * d + head * d + d)])
                let expected = reference(query: query, keys: keys[g], values: vals[g], last: position)
                for c in 0..<d {
                    #expect(abs(Double(output.row(row)[head * d + c]) - expected[c]) < 1e-5, "row \(row) head \(head) column \(c)")
                }
            }
        }
    }

    @Test("a prompt's norms, activations and residual adds spread over the cores give each row the bits it gets alone")
    func rowsSharedByCoresKeepTheirBits() {
        let rows = 37, width = 640, threads = Parallelism(threadCount: 3)
        let input = values(rows * width, seed: 5), addend = values(rows * width, seed: 6)
        let norm = RMSNorm(weight: values(width, seed: 7), epsilon: 1e-6, unitOffset: true)
        func run(_ body: (FloatRows, FloatRows) -> Void) -> [Float] {
            var x = input, y = [Float](repeating: .nan, count: rows * width)
            x.withUnsafeMutableBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    body(FloatRows(base: xb.baseAddress!, width: width), FloatRows(base: yb.baseAddress!, width: width))
                }
            }
            return y.allSatisfy(\.isNaN) ? x : y
        }
        func oneRowAtATime(_ body: (FloatRows, FloatRows) -> Void) -> [Float] {
            run { x, y in
                for r in 0..<rows { body(FloatRows(base: x.row(r), width: width), FloatRows(base: y.row(r), width: width)) }
            }
        }
        let backend = CPUBackend(parallelism: threads)
        #expect(run { backend.rmsNorm(norm, $0, rows: rows, into: $1) }.map(\.bitPattern)
                == oneRowAtATime { norm($0, rows: 1, into: $1) }.map(\.bitPattern))
        let layerNorm = LayerNorm(weight: values(width, seed: 8), bias: values(width, seed: 9), epsilon: 1e-5)
        #expect(run { backend.layerNorm(layerNorm, $0, rows: rows, into: $1) }.map(\.bitPattern)
                == oneRowAtATime { layerNorm($0, rows: 1, into: $1) }.map(\.bitPattern))
        for activation in [Activation.geluTanh, .silu] {
            #expect(run { x, _ in backend.activate(activation, x, rows: rows) }.map(\.bitPattern)
                    == oneRowAtATime { x, _ in CPUBackend(parallelism: .serial).activate(activation, x, rows: 1) }.map(\.bitPattern),
                    "\(activation)")
        }
        addend.withUnsafeBufferPointer { a in
            let addendRows = FloatRows(base: UnsafeMutablePointer(mutating: a.baseAddress!), width: width)
            let shared = run { x, _ in backend.addResidual(x, addendRows, rows: rows) }
            #expect(shared == zip(input, addend).map { $0 + $1 })
        }
    }

    @Test("the KV cache holds kvHeads per layer: full-context bytes and growth keep what is cached")
    func cacheLayout() throws {
        let layout = KVCacheLayout(layers: 3, kvHeads: 2, headDim: 4, queryHeads: 8, format: .float16)
        #expect(layout.bytes(positions: 100) == 2 * 3 * 2 * 100 * 4 * 2)
        let cache = KVCache(layout: layout, contextLength: 1000)
        cache.reserve(3, used: 0)
        let first = cache.capacity
        let key: [Float] = [1, 2, 3, 4], value: [Float] = [5, 6, 7, 8]
        cache.store(layer: 2, kvHead: 1, position: 2, key: key, value: value)
        cache.reserve(first + 1, used: 3)
        #expect(cache.capacity > first)
        let stored = (cache.keys[2] + cache.slot(kvHead: 1, position: 2)).assumingMemoryBound(to: Float16.self)
        #expect((0..<4).map { Float(stored[$0]) } == key)
    }

    @Test("rotary tables are per row: any order of positions gives each row its own angles")
    func rotaryPerRow() {
        let rotary = RotaryEmbedding(dimensions: 8, base: 10_000)
        let arena = ScratchArena(rows: 3)
        let cos = arena.rows(width: rotary.half), sin = arena.rows(width: rotary.half)
        let layout = KVCacheLayout(layers: 1, kvHeads: 1, headDim: 8, queryHeads: 1, format: .float32)
        let caches = (0..<3).map { _ in KVCache(layout: layout, contextLength: 16) }
        rotary.tables(ForwardStep(nextTokens: [0, 0, 0], positions: [7, 0, 7], caches: caches), cos: cos, sin: sin)
        for j in 0..<rotary.half {
            #expect(cos.row(0)[j] == cos.row(2)[j] && sin.row(0)[j] == sin.row(2)[j])
            #expect(cos.row(1)[j] == 1 && sin.row(1)[j] == 0)
            #expect(cos.row(0)[j] == cosf(7 * rotary.inverseFrequencies[j]))
        }
    }

    @Test("the registry maps model_type to an architecture; an unknown one is an error listing the supported types")
    func registry() throws {
        #expect(ModelLoader.supportedModelTypes == ["gpt_neox", "llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text"])
        #expect(ModelRegistry.architecture(forModelType: "gpt_neox") == GPTNeoXArchitecture.self)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(#"{"model_type": "mamba"}"#.utf8).write(to: directory.appendingPathComponent("config.json"))
        #expect(throws: ModelError.unknownModelType(file: directory.appendingPathComponent("config.json").path, modelType: "mamba")) {
            try ModelLoader.load(directory: directory)
        }
    }
}
