import Foundation
import Testing
@testable import KataribeGeneration

/// A stand-in model: deterministic pseudo-logits that depend on the whole history.
func toyLogits(_ history: [Int], vocabularySize: Int = 500) -> [Float] {
    var h: UInt64 = 1469598103934665603
    for t in history { h = (h ^ UInt64(t)) &* 1099511628211 }
    var g = SplitMix64(state: h)
    return (0..<vocabularySize).map { _ in Float(Double(g.next() >> 40) / Double(1 << 24)) * 8 - 4 }
}

func runToy(_ parameters: ResolvedGenerationParameters, prompt: [Int], seed: UInt64, sampleIndex: Int) throws -> [Int] {
    let session = try SamplingSession(parameters: parameters, promptTokens: prompt, seed: seed, sampleIndex: sampleIndex)
    while !session.isFinished {
        var logits = toyLogits(session.history.tokens)
        let token = try session.nextToken(logits: &logits)
        session.accept(token)
    }
    return Array(session.generatedTokens)
}

@Suite("Sampling sessions are reproducible")
struct SamplingSessionTests {
    let sampling: ResolvedGenerationParameters

    init() throws {
        sampling = try GenerationParameters(doSample: true, temperature: 0.8, topP: 0.9, repetitionPenalty: 1.1, maxNewTokens: 40).resolved()
    }

    @Test("the same seed gives the same tokens on every run")
    func sameSeedSameTokens() throws {
        let a = try runToy(sampling, prompt: [1, 2, 3], seed: 99, sampleIndex: 0)
        let b = try runToy(sampling, prompt: [1, 2, 3], seed: 99, sampleIndex: 0)
        #expect(a == b)
        #expect(a.count == 40)
        #expect(try runToy(sampling, prompt: [1, 2, 3], seed: 100, sampleIndex: 0) != a)
    }

    @Test("sample i of seed s equals a single run seeded s + i, whatever the thread or order")
    func samplesAreIndependent() async throws {
        let params = sampling
        let sequential = try (0..<4).map { try runToy(params, prompt: [5], seed: 7, sampleIndex: $0) }
        let parallel = try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
            for i in (0..<4).reversed() { group.addTask { (i, try runToy(params, prompt: [5], seed: 7, sampleIndex: i)) } }
            var out = [[Int]](repeating: [], count: 4)
            for try await (i, tokens) in group { out[i] = tokens }
            return out
        }
        #expect(parallel == sequential)
        #expect(try runToy(params, prompt: [5], seed: 9, sampleIndex: 0) == sequential[2])
        #expect(Set(sequential).count == 4)
    }

    @Test("sessions(...) makes num_return_sequences sessions with consecutive sample seeds")
    func sessionsForN() throws {
        let p = try GenerationParameters(doSample: true, maxNewTokens: 3, numReturnSequences: 3).resolved()
        let sessions = try SamplingSession.sessions(parameters: p, promptTokens: [1], seed: 40)
        #expect(sessions.map(\.sampleIndex) == [0, 1, 2])
        #expect(sessions.map { $0.result().seed } == [40, 41, 42])
        #expect(SamplingSession.requestSeed(try GenerationParameters(seed: 5).resolved()) == 5)
    }

    @Test("greedy decoding follows argmax of the processed scores")
    func greedy() throws {
        let p = try GenerationParameters(maxNewTokens: 5).resolved()
        let tokens = try runToy(p, prompt: [3], seed: 0, sampleIndex: 0)
        var history = [3]
        for t in tokens {
            let logits = toyLogits(history)
            #expect(t == logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) })
            history.append(t)
        }
    }

    @Test("NaN or +inf logits are rejected with the offending id")
    func invalidLogits() throws {
        let s = try SamplingSession(parameters: sampling, promptTokens: [1], seed: 0)
        var logits: [Float] = [0, .nan, 1]
        #expect(throws: SamplingError.self) { try s.nextToken(logits: &logits) }
        var infinite: [Float] = [0, 1, .infinity]
        do {
            _ = try s.nextToken(logits: &infinite)
            Issue.record("expected an error")
        } catch {
            #expect(error == .invalidLogit(tokenID: 2, value: .infinity))
            #expect("\(error)".contains("token id 2"))
        }
    }

    @Test("a row with nothing left to choose is a typed error")
    func noCandidate() throws {
        let s = try SamplingSession(parameters: try GenerationParameters(maxNewTokens: 3).resolved(), promptTokens: [1], seed: 0)
        var logits = [Float](repeating: -.infinity, count: 3)
        #expect(throws: SamplingError.noCandidate) { try s.nextToken(logits: &logits) }
    }

    @Test("min_new_tokens keeps eos from ending the sequence early")
    func minNewTokensHoldsEOS() throws {
        let p = try GenerationParameters(minNewTokens: 3, maxNewTokens: 5, eosTokenIds: [0]).resolved()
        let s = try SamplingSession(parameters: p, promptTokens: [1], seed: 0)
        var steps: [Int] = []
        while !s.isFinished {
            var logits: [Float] = [10, 1, 2]  // eos (id 0) always the favourite
            let t = try s.nextToken(logits: &logits)
            steps.append(t)
            s.accept(t)
        }
        #expect(steps == [2, 2, 2, 0])
        #expect(s.stopReason == .eos)
    }
}
