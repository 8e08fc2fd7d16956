import Foundation
import Testing
@testable import KataribeGeneration

@Suite("Choosing the next token")
struct TokenChooserTests {
    @Test("greedy picks the highest score and, on ties, the lowest id like torch.argmax")
    func greedyTies() {
        let scores: [Float] = [1, 7, 3, 7, -.infinity, 7]
        #expect(scores.withUnsafeBufferPointer { TokenChooser.argmax($0) } == 1)
    }

    @Test("NaN and +inf are found anywhere in a row (vector and tail parts); -inf is allowed")
    func invalidLogitScan() {
        var row = [Float](repeating: 0.5, count: 21)
        row[3] = -.infinity
        #expect(row.withUnsafeBufferPointer { TokenChooser.firstInvalidLogit($0) } == nil)
        row[13] = .nan
        row[19] = .infinity
        #expect(row.withUnsafeBufferPointer { TokenChooser.firstInvalidLogit($0) } == 13)
        row[13] = 0
        #expect(row.withUnsafeBufferPointer { TokenChooser.firstInvalidLogit($0) } == 19)
    }

    @Test("greedy ties resolve to the lowest id beyond the first vector too")
    func greedyTiesLongRow() {
        var row = [Float](repeating: 0, count: 37)
        row[30] = 2; row[17] = 2; row[36] = 2
        #expect(row.withUnsafeBufferPointer { TokenChooser.argmax($0) } == 17)
    }

    @Test("nothing can be chosen when every score is -inf")
    func allFiltered() {
        let scores = [Float](repeating: -.infinity, count: 4)
        #expect(scores.withUnsafeBufferPointer { TokenChooser.argmax($0) } == nil)
        #expect(scores.withUnsafeBufferPointer { TokenChooser.sample($0, uniform: 0.5) } == nil)
    }

    @Test("sampling walks the cumulative distribution in id order")
    func inverseCDF() {
        // weights 1 : 1 : 2 over ids 0, 2, 3 (id 1 filtered) -> CDF 0.25, 0.5, 1.0
        let scores: [Float] = [0, -.infinity, 0, Float(log(2.0))]
        func pick(_ u: Double) -> Int? { scores.withUnsafeBufferPointer { TokenChooser.sample($0, uniform: u) } }
        #expect(pick(0.0) == 0)
        #expect(pick(0.2499) == 0)
        #expect(pick(0.2501) == 2)
        #expect(pick(0.74) == 3)
        #expect(pick(0.999_999_999) == 3)
    }

    @Test("sampling from top-k's candidate list picks exactly what a scan of the whole row picks")
    func candidateListMatchesDenseScan() throws {
        var g = SplitMix64(state: 3)
        var scores = (0..<3000).map { _ in Float(Double(g.next() >> 11) * 0x1p-53) * 10 }
        let chain = LogitsProcessorChain(try GenerationParameters(doSample: true, temperature: 0.9, topK: 40, topP: 0.8).resolved())
        let workspace = LogitsWorkspace()
        scores.withUnsafeMutableBufferPointer { chain.apply($0, history: TokenHistory(prompt: [1]), workspace: workspace) }
        #expect(workspace.candidatesValid)
        #expect(workspace.candidateCount == scores.filter { $0 > -.infinity }.count)
        for k in 0..<200 {
            let u = Double(k) / 200
            let viaList = scores.withUnsafeBufferPointer { TokenChooser.sample($0, workspace: workspace, uniform: u) }
            let viaScan = scores.withUnsafeBufferPointer { TokenChooser.sample($0, uniform: u) }
            #expect(viaList == viaScan)
        }
    }

    @Test("sampled frequencies follow the processed distribution (chi-square, fixed seed)")
    func chiSquare() throws {
        // temperature 1.5 + top-p 0.95 over 12 tokens (top-p filters the tail); sample the processed scores 200k times
        let logits: [Float] = [2.0, 1.5, 1.2, 1.0, 0.7, 0.5, 0.1, -0.3, -1.0, -2.0, -3.0, -4.0]
        let chain = LogitsProcessorChain(try GenerationParameters(doSample: true, temperature: 1.5, topK: 0, topP: 0.95).resolved())
        let processed = chain.applied(to: logits, history: TokenHistory(prompt: [0]))
        let maxScore = Double(try #require(processed.max()))
        let weights = processed.map { $0 == -.infinity ? 0 : exp(Double($0) - maxScore) }
        let total = weights.reduce(0, +)
        var generator = SeededGenerator(seed: 12345)
        var counts = [Int](repeating: 0, count: logits.count)
        let draws = 200_000
        for _ in 0..<draws {
            let id = processed.withUnsafeBufferPointer { TokenChooser.sample($0, uniform: generator.nextUnitInterval()) }
            counts[try #require(id)] += 1
        }
        var chi2 = 0.0
        var categories = 0
        for (id, w) in weights.enumerated() {
            if w == 0 { #expect(counts[id] == 0, "filtered id \(id) was sampled"); continue }
            let expected = Double(draws) * w / total
            chi2 += pow(Double(counts[id]) - expected, 2) / expected
            categories += 1
        }
        // Generous bound: the chi-square mean (df) plus six standard deviations (sqrt(2 df)).
        let df = Double(categories - 1)
        #expect(categories >= 8 && categories < logits.count)
        #expect(chi2 < df + 6 * (2 * df).squareRoot(), "chi-square \(chi2) with \(Int(df)) degrees of freedom")
    }
}

@Suite("The seeded generator is a documented, fixed algorithm")
struct SeededGeneratorTests {
    @Test("SplitMix64 from 0 gives the published first output")
    func splitMixReference() {
        var s = SplitMix64(state: 0)
        #expect(s.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test("xoshiro256** seeded through SplitMix64(42) gives these first outputs")
    func xoshiroReference() {
        var g = SeededGenerator(seed: 42)
        #expect(g.next() == 0x1578_0B2E_0C2E_C716)
        #expect(g.next() == 0x6104_D986_6D11_3A7E)
        #expect(g.next() == 0xAE17_5332_39E4_99A1)
    }

    @Test("a uniform double takes the top 53 bits")
    func unitInterval() {
        var g = SeededGenerator(seed: 42)
        #expect(g.nextUnitInterval() == 0.08386297105988216)
    }

    @Test("sample i of a request uses seed + i")
    func sampleSeeds() {
        #expect(SeededGenerator(seed: 10, sampleIndex: 3) == SeededGenerator(seed: 13))
        #expect(SeededGenerator.sampleSeed(.max, sampleIndex: 1) == 0)
    }
}

@Suite("Vanishing temperatures")
struct VanishingTemperatureTests {
    @Test("do_sample with a temperature below 1e-5 picks the most likely token (vLLM's rule) instead of failing on overflowed scores")
    func tinyTemperatureIsGreedy() throws {
        for temperature in [1e-38, 1e-20, 9.9e-6] {
            let p = try GenerationParameters(doSample: true, temperature: temperature, topP: 0.9, repetitionPenalty: 1.3).resolved()
            #expect(!p.drawsSamples)
            #expect(LogitsProcessorChain(p).transformersNames == ["RepetitionPenaltyLogitsProcessor"])
            let session = try SamplingSession(parameters: p, promptTokens: [2], seed: 7)
            // Token 2 leads but was in the prompt: the repetition penalty still applies before the argmax.
            var logits: [Float] = [0.5, 3.0, 3.5, -1.0]
            #expect(try session.nextToken(logits: &logits) == 1)
        }
        let ordinary = try GenerationParameters(doSample: true, temperature: 1e-5).resolved()
        #expect(ordinary.drawsSamples)
    }
}
