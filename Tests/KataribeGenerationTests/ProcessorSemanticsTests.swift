import Testing
@testable import KataribeGeneration

/// Small hand-checkable cases for each processor (the fixtures cover the same ground at scale).
@Suite("Each processor's rule")
struct ProcessorSemanticsTests {
    let ninf = -Float.infinity

    func run(_ p: any LogitsProcessor, _ scores: [Float], history: [Int] = [], prompt: Int = 0) -> [Float] {
        LogitsProcessorChain(processors: [p]).applied(to: scores, history: TokenHistory(tokens: history, promptLength: prompt))
    }

    @Test("repetition penalty divides positive, multiplies negative, once per distinct id, prompt included")
    func repetitionPenalty() {
        let out = run(RepetitionPenaltyProcessor(penalty: 2), [4, -4, 0, 1, 8], history: [0, 0, 0, 1, 2, 9], prompt: 2)
        #expect(out == [2, -8, 0, 1, 8])  // id 9 is outside the vocabulary and ignored
    }

    @Test("no-repeat n-gram bans the token that would repeat a seen trigram")
    func noRepeatNGram() {
        // history 5 6 7 ... 5 6 -> the next 7 would repeat (5, 6, 7)
        let out = run(NoRepeatNGramProcessor(ngramSize: 3), [Float](repeating: 1, count: 10), history: [5, 6, 7, 1, 5, 6])
        #expect(out[7] == ninf)
        #expect(out.filter { $0 == ninf }.count == 1)
    }

    @Test("min_new_tokens masks every eos id until enough tokens were generated")
    func minNewTokens() {
        let p = MinNewTokensProcessor(minNewTokens: 2, eosTokenIds: [1, 3, 99])
        #expect(run(p, [1, 1, 1, 1], history: [0, 0, 2], prompt: 2) == [1, ninf, 1, ninf])
        #expect(run(p, [1, 1, 1, 1], history: [0, 0, 2, 2], prompt: 2) == [1, 1, 1, 1])
    }

    @Test("temperature divides every score")
    func temperature() {
        #expect(run(TemperatureWarper(temperature: 0.5), [1, -2, ninf]) == [2, -4, ninf])
    }

    @Test("top-k keeps every score tied with the k-th largest")
    func topKTies() {
        #expect(run(TopKWarper(topK: 2), [3, 1, 2, 2, 0]) == [3, ninf, 2, 2, ninf])
        #expect(run(TopKWarper(topK: 10), [3, 1]) == [3, 1])
    }

    @Test("top-p keeps the smallest set reaching top_p, and always at least one token")
    func topP() {
        // probabilities ~ [0.64, 0.24, 0.09, 0.03]
        let scores: [Float] = [3, 2, 1, 0].map { Float($0) }
        #expect(run(TopPWarper(topP: 0.7), scores) == [3, 2, ninf, ninf])
        #expect(run(TopPWarper(topP: 0.0), scores) == [3, ninf, ninf, ninf])
    }

    @Test("typical sampling keeps the tokens whose surprisal is closest to the entropy, even dropping the most likely")
    func typical() {
        // checked against transformers' TypicalLogitsWarper(0.5)
        let out = run(TypicalWarper(mass: 0.5), [2.0, 1.9, 1.8, 0, 0, 0, -3])
        #expect(out == [ninf, 1.9, 1.8, ninf, ninf, ninf, ninf])
    }

    @Test("a workspace reused across vocabularies of different sizes gives the same results")
    func workspaceReuse() {
        let workspace = LogitsWorkspace()
        let chain = LogitsProcessorChain(processors: [RepetitionPenaltyProcessor(penalty: 1.5), TopPWarper(topP: 0.5)])
        let big = (0..<5000).map { Float($0 % 97) / 10 }
        let small: [Float] = [1, 2, 3]
        let history = TokenHistory(tokens: [1, 2], promptLength: 1)
        let a = chain.applied(to: small, history: history)
        _ = chain.applied(to: big, history: history, workspace: workspace)
        #expect(chain.applied(to: small, history: history, workspace: workspace) == a)
    }
}
