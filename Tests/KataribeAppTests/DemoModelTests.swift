import Foundation
import KataribeApp
import KataribeGeneration
import KataribeTestSupport
import Testing

/// Tests/Fixtures/demo/greedy_reference.json, written with transformers by tools/demo_models/make_reference.py.
struct DemoReference: Decodable {
    struct Model: Decodable {
        var name: String
        var eosTokenId: Int?
        var cases: [Case]
    }
    struct Case: Decodable {
        var task: String?
        var prompt: String
        var inputIds: [Int]
        var greedyIds: [Int]
        var greedyText: String
        var stepMargins: [Double]?
    }
    struct Greedy: Decodable {
        var maxNewTokens: Int
    }

    var greedy: Greedy
    var models: [Model]

    static let file = TestPaths.fixture("demo/greedy_reference.json")

    /// The demo models and their reference exist (they land with the demo-models work).
    static var available: Bool {
        FileManager.default.fileExists(atPath: file.path)
            && ["demo-calm", "demo-rinna-sft"].allSatisfy {
                FileManager.default.fileExists(atPath: TestPaths.packageRoot.appendingPathComponent("Models/\($0)/config.json").path)
            }
    }

    static func load() throws -> DemoReference {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(DemoReference.self, from: Data(contentsOf: file))
    }
}

/// A Swift port may legitimately pick the other token where transformers' two best logits are this close.
private let nearTie = 1e-4

@Suite("The demo models", .enabled(if: DemoReference.available), .timeLimit(.minutes(5)))
struct DemoModelTests {
    @Test("demo-calm and demo-rinna-sft resolve to the checkout's Models folder with their presets")
    func resolve() async throws {
        for name in ["demo-calm", "demo-rinna-sft"] {
            let resolved = try await ModelResolver().resolve(name)
            #expect(resolved.folder.standardizedFileURL.path
                    == TestPaths.packageRoot.appendingPathComponent("Models/\(name)").standardizedFileURL.path)
            #expect(resolved.preset.id == name && resolved.location.origin == .source("demo"))
        }
    }

    @Test("greedy output equals transformers' (ids and text)")
    func greedyMatchesTransformers() async throws {
        let file = try DemoReference.load()
        for entry in file.models {
            let model = try await LoadedModel.load(entry.name)
            let generator = TextGenerator(model: model)
            for reference in entry.cases {
                let input: PromptInput = model.preset.promptFormat == .rinnaChat
                    ? .conversation(try RinnaChatFormat.parse(reference.prompt)) : .text(reference.prompt)
                let parameters = greedy(maxNewTokens: file.greedy.maxNewTokens,
                                        eos: entry.eosTokenId.map { [$0] })
                let prepared = try generator.prepare(input, parameters: parameters)
                #expect(prepared.promptTokens == reference.inputIds, "\(entry.name) \(reference.task ?? "")")
                let result = try await collect(generator.stream(prepared))
                let sample = try #require(result.samples.first)
                #expect(result.text(of: 0) == sample.text)
                let expected = reference.greedyIds
                if let step = sample.tokens.indices.first(where: { $0 < expected.count && sample.tokens[$0] != expected[$0] }) {
                    let margin = reference.stepMargins.flatMap { step < $0.count ? $0[step] : nil } ?? 0
                    #expect(margin < nearTie, "\(entry.name) \(reference.task ?? ""): step \(step) differs with a margin of \(margin)")
                    continue
                }
                #expect(sample.tokens == reference.greedyIds, "\(entry.name) \(reference.task ?? "")")
                #expect(sample.rawText == reference.greedyText, "\(entry.name) \(reference.task ?? "")")
            }
        }
    }
}
