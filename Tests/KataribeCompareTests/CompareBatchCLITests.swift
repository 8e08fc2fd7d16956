import Foundation
import KataribeCompare
import KataribeTestSupport
import Testing

@Suite("kataribe compare --batch", .enabled(if: kataribeBinary != nil), .timeLimit(.minutes(2)))
struct CompareBatchCLITests {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func compare(_ arguments: [String], in dir: URL) async throws -> Outcome {
        let out = dir.appendingPathComponent("stdout.log"), err = dir.appendingPathComponent("stderr.log")
        try Data().write(to: out)
        try Data().write(to: err)
        let process = Process()
        process.executableURL = kataribeBinary
        process.arguments = ["compare"] + arguments
        process.currentDirectoryURL = dir
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        await process.exited()
        return Outcome(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                       stderr: try String(contentsOf: err, encoding: .utf8))
    }

    /// Help text wraps wherever the words fall; compare with the whitespace runs made single spaces.
    func unwrapped(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    @Test("--help describes --batch; --batch must be at least 1")
    func helpAndValidation() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let help = try await compare(["--help"], in: dir.url)
        #expect(help.status == 0)
        #expect(unwrapped(help.stdout).contains("--batch <N> Samples of one model generated together in one batch (local models): "
            + "the samples of a cell by default; larger values also batch cells of the same model."))
        #expect(unwrapped(help.stdout).contains("concurrency, how many requests to send at once"))

        for value in ["0", "-3"] {
            let refused = try await compare(["suite.yaml", "--batch=\(value)"], in: dir.url)
            #expect(refused.status == 64, "\(value)")
            #expect(refused.stderr.contains("--batch must be at least 1"), "\(refused.stderr)")
        }
    }

    @Test("with samples in flight at once, the progress counts every sample once and the run is complete")
    func progressCountsConcurrentSamples() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try """
        name: batch
        samples: 3
        models:
          - {label: calm, model: demo-calm}
          - {label: sft, model: demo-rinna-sft}
        prompts:
          - {id: story, completion: 昔々あるところに、, instruction: 物語を考えてください。}
          - {id: reply, completion: 返信:「, instruction: 返信を考えてください。}
        """.write(to: dir.url.appendingPathComponent("suite.yaml"), atomically: true, encoding: .utf8)
        let run = try await compare(["suite.yaml", "-o", "out", "--backend", "fake", "--batch", "4", "--fake-delay-ms", "5"],
                                    in: dir.url)
        #expect(run.status == 0, "\(run.stderr)")
        // Not a terminal: one line per finished sample, numbered 1 to 12 in finishing order.
        let counts = run.stderr.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix("["), let slash = line.firstIndex(of: "/") else { return nil }
            return Int(line[line.index(after: line.startIndex)..<slash])
        }
        #expect(counts == Array(1...12), "\(run.stderr)")
        #expect(run.stderr.contains("12 samples finished now"))
        let plan = try CompareOutput.readPlan(from: dir.url.appendingPathComponent("out"))
        let log = try ResultsLog.read(directory: dir.url.appendingPathComponent("out"))
        #expect(CompareReport(plan: plan, entries: log.entries).isComplete)
    }
}
