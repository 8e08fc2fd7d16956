import Foundation
import Testing
@testable import KataribeCompare

/// Suite files built to hang or crash the YAML reader must fail fast with an error naming the place.
@Suite("Hostile suite files")
struct HostileSuiteTests {
    /// `a0: &a0 [x, x, …]`, then each anchor a list of nine aliases of the previous one.
    func aliasBomb(levels: Int) -> String {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        for level in 1...levels {
            let previous = Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ")
            lines.append("a\(level): &a\(level) [\(previous)]")
        }
        return lines.joined(separator: "\n")
    }

    func syntaxProblem(_ yaml: String) -> String? {
        do {
            _ = try SuiteLoader.parse(yaml: yaml, file: "hostile.yaml")
            return nil
        } catch {
            guard case .syntax(let problem) = error.kind else { return "other: \(error)" }
            #expect(error.file == "hostile.yaml")
            #expect(error.line != nil)
            return problem
        }
    }

    @Test("an alias bomb used as a mapping key is refused (it hung: each level multiplied the hashing by nine)")
    func aliasBombAsKey() {
        let yaml = aliasBomb(levels: 9) + "\n? *a9\n: value\n"
        #expect(syntaxProblem(yaml)?.contains("aliases expand") == true || syntaxProblem(yaml)?.contains("mapping key") == true)
    }

    @Test("an alias bomb as a value is refused once its expansion passes the node budget")
    func aliasBombAsValue() {
        #expect(syntaxProblem(aliasBomb(levels: 9))?.contains("aliases expand") == true)
    }

    @Test("a list or mapping as a mapping key is refused")
    func collectionKeys() {
        #expect(syntaxProblem("? [a, b]\n: 1\n")?.contains("mapping key") == true)
        #expect(syntaxProblem("{[a]: 1}")?.contains("mapping key") == true)
        #expect(syntaxProblem("x: &m {a: 1}\n? *m\n: 2\n")?.contains("mapping key") == true)
    }

    @Test("500 or 100,000 nested brackets are refused instead of overflowing Yams' recursive composer")
    func deepNesting() {
        for depth in [500, 100_000] {
            let yaml = "models: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            let problem = syntaxProblem(yaml)?.lowercased()
            // libyaml stops at 1,000 levels itself; the budget stops far earlier.
            #expect(problem?.contains("nest") == true, "\(problem ?? "accepted")")
        }
    }

    @Test("ordinary anchors and aliases (shared generation settings) still work")
    func ordinaryAliases() throws {
        let yaml = """
        name: aliases
        models:
          - label: a
            model: demo-calm
            generation: &shared {max_new_tokens: 8}
          - label: b
            model: demo-rinna-sft
            generation: *shared
        prompts:
          - id: p
            completion: 昔々
            instruction: 話して
        """
        let suite = try SuiteLoader.parse(yaml: yaml)
        #expect(suite.models.count == 2)
    }
}
