import Testing
import KataribeGeneration

@Suite("Logits processors match transformers on the committed fixtures")
struct ProcessorParityTests {
    static let fixtures: ProcessorFixtures? = try? ProcessorFixtures.load()

    @Test("the fixture file loads and covers both small and large vocabularies")
    func fixturesLoad() throws {
        let fixtures = try #require(Self.fixtures)
        #expect(fixtures.cases.count >= 200)
        #expect(fixtures.cases.contains { $0.vocabSize >= 50_000 })
        #expect(fixtures.cases.contains { $0.vocabSize == 5000 })
    }

    @Test("the chain has transformers' processors in transformers' order for every case")
    func chainOrderMatches() throws {
        let fixtures = try #require(Self.fixtures)
        for c in fixtures.cases {
            let chain = LogitsProcessorChain(try c.parameters.resolved())
            #expect(chain.transformersNames == c.processors, "\(c.name)")
        }
    }

    @Test("processed scores equal transformers': same -inf pattern, finite values within 1e-6")
    func scoresMatch() throws {
        let fixtures = try #require(Self.fixtures)
        let workspace = LogitsWorkspace()  // reused across cases on purpose: no state may leak
        for c in fixtures.cases {
            let chain = LogitsProcessorChain(try c.parameters.resolved())
            let history = TokenHistory(tokens: c.history, promptLength: c.promptLength)
            let actual = chain.applied(to: fixtures.scores(c), history: history, workspace: workspace)
            let mismatches = scoreMismatches(actual, fixtures.expected(c))
            #expect(mismatches.isEmpty, "\(c.name) \(c.processors): \(mismatches)")
        }
    }
}
