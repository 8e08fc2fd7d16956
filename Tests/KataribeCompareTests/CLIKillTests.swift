import Foundation
import KataribeCompare
import KataribeTestSupport
import Testing

@Suite("kataribe compare in a subprocess", .enabled(if: kataribeBinary != nil), .timeLimit(.minutes(3)))
struct CLIKillTests {
    let suite = """
    name: kill-test
    samples: 3
    seed: 11
    models:
      - label: calm
        model: demo-calm
      - label: sft
        model: demo-rinna-sft
    prompts:
      - {id: story, completion: 昔々あるところに、, instruction: 物語を考えてください。}
      - {id: reply, completion: 返信:「, instruction: 返信を考えてください。}
    """

    func launch(_ arguments: [String], in dir: URL) throws -> Process {
        let process = Process()
        process.executableURL = kataribeBinary
        process.arguments = ["compare"] + arguments
        process.currentDirectoryURL = dir
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = try FileHandle(forWritingTo: dir.appendingPathComponent("stderr.log"))
        try process.run()
        return process
    }

    func sampleLines(_ results: URL) -> Int {
        guard let text = try? String(contentsOf: results, encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").filter { $0.contains("\"type\":\"sample\"") }.count
    }

    @Test("SIGKILL midway, garbage tail, rerun: every sample exactly once, earlier lines untouched, reports complete")
    func killAndResume() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try suite.write(to: dir.url.appendingPathComponent("suite.yaml"), atomically: true, encoding: .utf8)
        try Data().write(to: dir.url.appendingPathComponent("stderr.log"))
        let out = dir.url.appendingPathComponent("out")
        let results = out.appendingPathComponent("results.jsonl")

        let slow = try launch(["suite.yaml", "--output", "out", "--backend", "fake", "--fake-delay-ms", "200", "--fake-tokens", "10"], in: dir.url)
        let deadline = ContinuousClock.now + .seconds(60)
        while sampleLines(results) < 4, ContinuousClock.now < deadline, slow.isRunning {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(slow.isRunning, "the slow run should still be going when it is killed")
        kill(slow.processIdentifier, SIGKILL)
        await slow.exited()
        #expect(slow.terminationReason == .uncaughtSignal)

        // What a write cut short by the kill could have left behind.
        let beforeRerun = try Data(contentsOf: results)
        let handle = try FileHandle(forWritingTo: results)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"type\":\"sample\",\"cell_key\":\"deadbeef".utf8))
        try handle.close()
        let killedAt = sampleLines(results)
        #expect(killedAt >= 4 && killedAt < 12)

        let rerun = try launch(["suite.yaml", "--output", "out", "--backend", "fake", "--fake-tokens", "5", "--json"], in: dir.url)
        await rerun.exited()
        let log = String(decoding: (try? Data(contentsOf: dir.url.appendingPathComponent("stderr.log"))) ?? Data(), as: UTF8.self)
        #expect(rerun.terminationStatus == 0, "stderr: \(log)")
        #expect(log.contains("removed"))

        let after = try Data(contentsOf: results)
        #expect(after.prefix(beforeRerun.count) == beforeRerun)
        let entries = try ResultsLog.read(directory: out)
        #expect(entries.corruptTail == nil)
        let ids = sampleIDs(in: entries.entries)
        #expect(ids.count == 12 && Set(ids).count == 12)
        #expect(entries.entries.contains { if case .note = $0 { true } else { false } })

        let markdown = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(!markdown.contains("（未実行）") && !markdown.contains("エラー"))
        #expect(markdown.components(separatedBy: "| 1 ★ |").count - 1 == 4)
        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("全 3 サンプル（完了 3）") && !html.contains("未実行</div>"))
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: out.path)).contains { $0.contains(".tmp-") })

        // --report-only rebuilds the same Markdown from the folder.
        try FileManager.default.removeItem(at: out.appendingPathComponent("report.md"))
        let rebuild = try launch(["--report-only", "out"], in: dir.url)
        await rebuild.exited()
        #expect(rebuild.terminationStatus == 0)
        #expect(try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8) == markdown)
    }

    @Test("README's main command: the demo suite runs on the shipped demo models and writes both reports")
    func demoSuite() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try Data().write(to: dir.url.appendingPathComponent("stderr.log"))
        let demo = TestPaths.packageRoot.appendingPathComponent("Examples/demo.yaml").path
        // Short samples keep a debug build quick; the settings are otherwise the suite's.
        let run = try launch([demo, "-o", "out", "--samples", "1", "--max-new-tokens", "4", "--threads", "1"], in: dir.url)
        await run.exited()
        let log = String(decoding: (try? Data(contentsOf: dir.url.appendingPathComponent("stderr.log"))) ?? Data(), as: UTF8.self)
        #expect(run.terminationStatus == 0, "stderr: \(log)")
        let out = dir.url.appendingPathComponent("out")
        let entries = try ResultsLog.read(directory: out)
        #expect(sampleIDs(in: entries.entries).count == 6)
        let markdown = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(markdown.contains("| demo-calm | 昔々あるところに、"))
        #expect(markdown.contains("| demo-rinna-sft |"))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("report.html").path))
    }

    @Test("exit status 1 when a model fails, 2 for a bad suite; the reports still list the failure")
    func exitStatuses() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try Data().write(to: dir.url.appendingPathComponent("stderr.log"))
        // A model folder that does not exist fails to load: status 1.
        let missing = suite.replacingOccurrences(of: "model: demo-calm", with: "model: /nonexistent/demo-calm")
        try missing.write(to: dir.url.appendingPathComponent("suite.yaml"), atomically: true, encoding: .utf8)
        let failing = try launch(["suite.yaml", "-o", "out", "--models", "calm", "--samples", "1"], in: dir.url)
        await failing.exited()
        #expect(failing.terminationStatus == 1)
        let markdown = try String(contentsOf: dir.url.appendingPathComponent("out/report.md"), encoding: .utf8)
        #expect(markdown.contains("## エラー"))

        try "models: []\nprompts: []\n".write(to: dir.url.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let bad = try launch(["bad.yaml"], in: dir.url)
        await bad.exited()
        #expect(bad.terminationStatus == 2)
        let log = String(decoding: try Data(contentsOf: dir.url.appendingPathComponent("stderr.log")), as: UTF8.self)
        #expect(log.contains("bad.yaml:"))
    }
}
