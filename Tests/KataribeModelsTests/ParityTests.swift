import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeModels

/// The acceptance bar: logits within 1e-4 of transformers (float32 math on the same weights)
/// and identical greedy continuations, for every fixture and container format.
@Suite("Parity with transformers")
struct ParityTests {
    @Test("logits for every position match transformers within 1e-4", arguments: Reference.allFormats)
    func logits(reference name: String, directory: String) throws {
        let reference = try Reference.load(name)
        let model = try ModelLoader.load(directory: modelDirectory(directory))
        let logits = try model.logits(for: reference.ids)
        let difference = maxAbsDifference(logits, reference.logits)
        #expect(difference < 1e-4, "\(directory): max |Δ| = \(difference)")
    }

    @Test("20-token greedy continuations are identical", arguments: Reference.allFormats)
    func greedy(reference name: String, directory: String) throws {
        let reference = try Reference.load(name)
        let model = try ModelLoader.load(directory: modelDirectory(directory))
        let session = model.makeSession()
        var logits = try session.append(reference.greedyPrompt)
        var generated: [Int] = []
        for _ in reference.greedyTokens {
            let next = argmax(logits)
            generated.append(next)
            logits = try session.append([next])
        }
        #expect(generated == reference.greedyTokens)
    }
}
