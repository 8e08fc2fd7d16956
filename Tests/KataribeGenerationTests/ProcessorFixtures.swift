import Foundation
import Testing
import KataribeGeneration
import KataribeTestSupport

/// Cases written by tools/fixtures/make_processor_fixtures.py: transformers' own processor list
/// applied to random scores and histories.
struct ProcessorFixtureCase: Decodable, Sendable, CustomTestStringConvertible {
    let name: String
    let vocabSize: Int
    let history: [Int]
    let promptLength: Int
    let parameters: GenerationParameters
    let processors: [String]
    let scoresOffset: Int
    let expectedOffset: Int

    var testDescription: String { name }

    enum CodingKeys: String, CodingKey {
        case name, history, parameters, processors
        case vocabSize = "vocab_size"
        case promptLength = "prompt_length"
        case scoresOffset = "scores_offset"
        case expectedOffset = "expected_offset"
    }
}

struct ProcessorFixtures: Sendable {
    let cases: [ProcessorFixtureCase]
    let floats: [Float]

    func scores(_ c: ProcessorFixtureCase) -> [Float] { Array(floats[c.scoresOffset..<(c.scoresOffset + c.vocabSize)]) }
    func expected(_ c: ProcessorFixtureCase) -> [Float] { Array(floats[c.expectedOffset..<(c.expectedOffset + c.vocabSize)]) }

    static func load() throws -> ProcessorFixtures {
        struct Index: Decodable { let cases: [ProcessorFixtureCase] }
        let index = try JSONDecoder().decode(
            Index.self, from: Data(contentsOf: TestPaths.fixture("generation/processor_cases.json")))
        let blob = try Data(contentsOf: TestPaths.fixture("generation/processor_cases.bin"))
        let floats = blob.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        return ProcessorFixtures(cases: index.cases, floats: floats)
    }
}

/// Where two processed score vectors disagree: the -inf pattern must be identical and finite
/// values equal within 1e-6 (relative once |x| > 1).
func scoreMismatches(_ actual: [Float], _ expected: [Float], limit: Int = 5) -> [String] {
    var out: [String] = []
    for i in expected.indices {
        let a = actual[i], e = expected[i]
        let ok: Bool
        if e == -.infinity || a == -.infinity {
            ok = a == e
        } else {
            ok = abs(a - e) <= 1e-6 * max(1, abs(e))
        }
        if !ok {
            out.append("id \(i): got \(a), transformers \(e)")
            if out.count >= limit { break }
        }
    }
    return out
}
