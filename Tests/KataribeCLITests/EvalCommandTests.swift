import Foundation
import KataribeTestSupport
import Testing

private let calm = "Tests/Fixtures/generation-e2e/calm"
private let task = "Examples/eval/jcommonsense-mini.jsonl"
private let text = "Examples/eval/perplexity-ja.txt"

private func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
}

private func temporaryFile(_ name: String, _ contents: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-eval-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let url = folder.appendingPathComponent(name)
    try Data(contents.utf8).write(to: url)
    return url
}

@Suite("kataribe eval", .timeLimit(.minutes(3)))
struct EvalCommandTests {
    @Test("--task --json prints one object with the documented keys and a row per item")
    func taskJSON() async throws {
        let result = try await KataribeBinary.run(["eval", "--model", calm, "--preset", "open-calm-small", "--task", task, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = try jsonLines(result.stdout)
        #expect(objects.count == 1)
        let report = try #require(objects.first)
        for key in ["task", "model", "n", "acc", "acc_norm", "acc_stderr", "acc_norm_stderr", "max_length", "add_special_tokens", "items"] {
            #expect(report[key] != nil, "missing \(key)")
        }
        #expect(report["task"] as? String == "jcommonsense-mini")
        #expect(report["model"] as? String == calm)
        #expect(report["n"] as? Int == 20)
        #expect(report["max_length"] as? Int == 128)
        let items = try #require(report["items"] as? [[String: Any]])
        #expect(items.count == 20)
        let first = try #require(items.first)
        #expect(first["id"] as? String == "mini-01")
        #expect((first["logliks"] as? [Double])?.count == 5)
        #expect((first["is_greedy"] as? [Bool])?.count == 5)
        #expect(first["label"] as? Int == 0)
        let correct = items.filter { ($0["pred"] as? Int) == ($0["label"] as? Int) }.count
        #expect(abs((report["acc"] as? Double ?? -1) - Double(correct) / 20) < 1e-12)
        // Not a terminal: no progress bar escape codes on stderr.
        #expect(!result.stderr.contains("\u{1B}["))
    }

    @Test("several models: one JSON line each; without --json a table; --markdown and --html write it too")
    func sideBySide() async throws {
        let markdown = try temporaryFile("table.md", "")
        defer { try? FileManager.default.removeItem(at: markdown.deletingLastPathComponent()) }
        let models = ["--model", calm, "--model", calm, "--preset", "open-calm-small"]
        let json = try await KataribeBinary.run(["eval"] + models + ["--perplexity", text, "--json", "--max-length", "64"])
        #expect(json.status == 0, "\(json.stderr)")
        let objects = try jsonLines(json.stdout)
        #expect(objects.count == 2)
        for object in objects {
            for key in ["file", "model", "tokens", "words", "bytes", "windows", "loglikelihood", "token_perplexity",
                        "word_perplexity", "byte_perplexity", "bits_per_byte", "max_length"] {
                #expect(object[key] != nil, "missing \(key)")
            }
            #expect((object["windows"] as? Int ?? 0) > 1)
            #expect(object["max_length"] as? Int == 64)
        }
        #expect(objects[0]["loglikelihood"] as? Double == objects[1]["loglikelihood"] as? Double)

        let html = markdown.deletingLastPathComponent().appendingPathComponent("report.html")
        let table = try await KataribeBinary.run(["eval"] + models + ["--task", task, "--limit", "3", "--markdown", markdown.path,
                                                                        "--html", html.path])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["task", "model", "n", "acc", "acc_norm"])
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("jcommonsense-mini") && $0.contains(" 3 ") })
        let written = try String(contentsOf: markdown, encoding: .utf8)
        #expect(written.hasPrefix("| task | model | n | acc | acc_norm |\n| --- | --- | --- | --- | --- |\n"))
        #expect(written.split(separator: "\n").count == 4)
        // The HTML report: the same summary, then each item's answer per model, escaped.
        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<th>acc_norm</th>") && page.contains("<h2>Answers</h2>"))
        #expect(page.components(separatedBy: "<tr><td>").count - 1 == 2 + 3)
    }

    @Test("a bad task file fails before loading with the file, the line and the reason")
    func badTask() async throws {
        let file = try temporaryFile("bad.jsonl", """
            {"context": "c", "choices": ["a", "b"], "label": 0}
            {"context": "c", "choices": ["a", "b"], "label": 5}
            """)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let result = try await KataribeBinary.run(["eval", "--model", "no-such-model", "--task", file.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(file.path):2: label 5 is out of range"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)

        let usage = try await KataribeBinary.run(["eval", "--model", calm])
        #expect(usage.status == 64)
        #expect(usage.stderr.contains("give either --task"))
    }
}
