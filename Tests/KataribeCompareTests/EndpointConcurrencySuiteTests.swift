import Foundation
import KataribeCompare
import Testing

/// An endpoint model's `concurrency` key: requests in flight at once.
@Suite("Suite files: endpoint concurrency")
struct EndpointConcurrencySuiteTests {
    let prompts = "prompts:\n  - {id: p, completion: x}\n"

    func endpointSuite(_ extra: String) -> String {
        "generation: {max_new_tokens: 8}\nmodels:\n  - endpoint: {base_url: \"http://h:1\", model: x/y\(extra)}\n" + prompts
    }

    func error(_ yaml: String) -> CompareInputError? {
        do {
            _ = try ComparePlan(suite: SuiteLoader.parse(yaml: yaml, file: "suite.yaml"))
            return nil
        } catch {
            return error
        }
    }

    func endpoint(_ suite: CompareSuite, _ index: Int = 0) -> EndpointConfig? {
        if case .endpoint(let config) = suite.models[index].source { return config }
        return nil
    }

    @Test("concurrency is read from the endpoint mapping; without it an endpoint sends one request at a time")
    func valid() throws {
        let suite = try SuiteLoader.parse(yaml: """
        generation: {max_new_tokens: 8}
        models:
          - label: parallel
            endpoint: {base_url: "http://h:1", model: x/y, concurrency: 8}
          - label: serial
            endpoint:
              base_url: "http://h:1"
              model: x/y
        \(prompts)
        """)
        #expect(endpoint(suite, 0)?.concurrency == 8)
        #expect(endpoint(suite, 1)?.concurrency == 1)
        #expect(endpoint(suite, 0) == EndpointConfig(baseURL: "http://h:1", model: "x/y", concurrency: 8))
    }

    @Test("zero, negative and too large values are refused at the key, saying what is allowed", arguments: ["0", "-2", "1001"])
    func outOfRange(value: String) throws {
        let e = try #require(error(endpointSuite(", concurrency: \(value)")))
        #expect(e.kind == .invalidValue(value: value, reason: "must be between 1 and 1000"))
        #expect(e.file == "suite.yaml" && e.line == 3)
        #expect(e.keyPath == "models[0].endpoint.concurrency")
    }

    @Test("a value that is not an integer is a type error", arguments: ["1.5", "many", "true", "\"\""])
    func notAnInteger(value: String) throws {
        let e = try #require(error(endpointSuite(", concurrency: \(value)")))
        #expect(e.kind == .wrongType(expected: "an integer"))
        #expect(e.keyPath == "models[0].endpoint.concurrency")
    }

    @Test("a misspelt concurrency gets a did-you-mean; it belongs in the endpoint mapping, not beside it")
    func misspelt() throws {
        let typo = try #require(error(endpointSuite(", concurency: 4")))
        #expect(typo.kind == .unknownKey(key: "concurency", suggestion: "concurrency"))
        let beside = try #require(error(
            "generation: {max_new_tokens: 8}\nmodels:\n  - endpoint: {base_url: \"http://h:1\", model: x/y}\n    concurrency: 4\n" + prompts))
        guard case .unknownKey(key: "concurrency", _) = beside.kind else { Issue.record("\(beside)"); return }
        #expect(beside.keyPath == "models[0].concurrency")
    }

    @Test("concurrency changes no cell key, so finished samples stay finished; plan.json keeps it")
    func notPartOfTheKey() throws {
        let serial = try ComparePlan(suite: SuiteLoader.parse(yaml: endpointSuite("")))
        let parallel = try ComparePlan(suite: SuiteLoader.parse(yaml: endpointSuite(", concurrency: 4")))
        #expect(serial.cells.map(\.key) == parallel.cells.map(\.key))

        let data = try JSONEncoder().encode(parallel)
        let decoded = try JSONDecoder().decode(ComparePlan.self, from: data)
        #expect(decoded == parallel)
        // Written only when not the default, so a plan without it reads as before.
        let serialJSON = String(decoding: try JSONEncoder().encode(serial), as: UTF8.self)
        #expect(!serialJSON.contains("concurrency"))
        #expect(try JSONDecoder().decode(ComparePlan.self, from: Data(serialJSON.utf8)) == serial)
    }
}
