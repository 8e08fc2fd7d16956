import Foundation
import KataribeApp
import KataribeGeneration
import KataribeTestSupport
import Testing

/// One case of Tests/Fixtures/generation-e2e/greedy_reference.json.
struct GreedyCase: Decodable, CustomTestStringConvertible, Sendable {
    struct Generate: Decodable, Sendable {
        var maxNewTokens: Int
        var repetitionPenalty: Double?
        var noRepeatNgramSize: Int?
        var minNewTokens: Int?
        var eosTokenId: Int?
    }
    struct Turn: Decodable, Sendable {
        var speaker: ChatRole
        var text: String
    }

    var model: String
    var format: PromptFormat
    var prompt: String
    var conversation: [Turn]?
    var generate: Generate
    var inputIds: [Int]
    var outputIds: [Int]
    var text: String

    var testDescription: String {
        "\(model) \(format.name) \(prompt.prefix(12)) max=\(generate.maxNewTokens) rep=\(generate.repetitionPenalty ?? 1) "
            + "ngram=\(generate.noRepeatNgramSize ?? 0) min=\(generate.minNewTokens ?? 0) eos=\(generate.eosTokenId.map(String.init) ?? "-")"
    }

    static let all: [GreedyCase] = {
        struct File: Decodable { var cases: [GreedyCase] }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let data = try? Data(contentsOf: TestPaths.fixture("generation-e2e/greedy_reference.json")),
              let file = try? decoder.decode(File.self, from: data) else { return [] }
        return file.cases
    }()
}

@Suite("Greedy generation reproduces transformers' generate()", .timeLimit(.minutes(2)))
struct GreedyParityTests {
    @Test("the reference has cases for both tokenizer families and every processor variant")
    func fixtureIsComplete() {
        #expect(GreedyCase.all.count >= 20)
        #expect(Set(GreedyCase.all.map(\.model)) == ["calm", "rinna"])
        #expect(GreedyCase.all.contains { $0.generate.noRepeatNgramSize != nil })
        #expect(GreedyCase.all.contains { $0.generate.minNewTokens != nil })
        #expect(GreedyCase.all.contains { $0.format == .rinnaChat && $0.text.hasSuffix("</s>") })
    }

    @Test("same input ids, output ids and decoded text; streamed chunks add up to the text", arguments: GreedyCase.all)
    func matchesTransformers(_ reference: GreedyCase) async throws {
        let model = reference.model == "calm" ? try Fixtures.calm() : try Fixtures.rinna(chat: reference.format == .rinnaChat)
        let generator = TextGenerator(model: model)
        let g = reference.generate
        let parameters = greedy(maxNewTokens: g.maxNewTokens, repetitionPenalty: g.repetitionPenalty ?? 1,
                                noRepeatNgramSize: g.noRepeatNgramSize ?? 0, minNewTokens: g.minNewTokens ?? 0,
                                eos: g.eosTokenId.map { [$0] })
        let input: PromptInput = reference.conversation.map {
            .conversation(Conversation($0.map { ChatTurn($0.speaker, $0.text) }))
        } ?? .text(reference.prompt)
        let prepared = try generator.prepare(input, parameters: parameters)
        #expect(prepared.promptTokens == reference.inputIds)

        let result = try await collect(generator.stream(prepared))
        let sample = try #require(result.samples.first)
        #expect(sample.tokens == reference.outputIds)
        #expect(sample.rawText == reference.text)
        #expect(sample.text == ReplyTextFilter.display(reference.text, format: reference.format))
        #expect(result.text(of: 0) == sample.text)
        let eos = g.eosTokenId ?? (reference.model == "calm" ? 0 : 3)
        let expectedStop: StopReason = reference.outputIds.last == eos ? .eos : .length
        #expect(sample.stopReason == expectedStop)
    }
}
