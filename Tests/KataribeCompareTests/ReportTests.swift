import Foundation
import KataribeCompare
import KataribeTestSupport
import Testing

@Suite("Reports and picks")
struct ReportTests {
    /// calm/story: two samples (one with newlines and pipes); calm/recipe: #1 done, #2 failed;
    /// sft/story: #1 done; sft/recipe: nothing yet.
    func fixtureReport(picks: Picks = Picks()) throws -> CompareReport {
        let plan = try smallPlan()
        let calmStory = try #require(plan.cell(model: "calm", prompt: "story"))
        let calmRecipe = try #require(plan.cell(model: "calm", prompt: "recipe"))
        let sftStory = try #require(plan.cell(model: "sft", prompt: "story"))
        let entries: [ResultEntry] = [
            .sample(sampleRecord(cell: calmStory, index: 0, display: "昔々あるところに、おじいさんが\n山へ | 川へ")),
            .sample(sampleRecord(cell: calmStory, index: 1, display: "昔々あるところに、<b>*桃*</b> & `code`\r\n終わり")),
            .sample(sampleRecord(cell: calmRecipe, index: 0, display: "まず、玉ねぎを炒めます。", tokens: 30, seconds: 3)),
            .error(errorRecord(cell: calmRecipe, index: 1, message: "out of memory | retry")),
            .sample(sampleRecord(cell: sftStory, index: 0, display: "はい。\n\nむかしむかし……", load: 4.3)),
            .note(NoteRecord(message: "ignored by reports", at: "2026-01-01T00:00:00.000Z")),
        ]
        return CompareReport(plan: plan, entries: entries, picks: picks)
    }

    @Test("Markdown: one table per prompt, all samples numbered below, matching the golden file")
    func markdownGolden() throws {
        let picks = try Picks.parse(yaml: "story: {calm: 2}", plan: smallPlan())
        let markdown = MarkdownReport.render(try fixtureReport(picks: picks))
        let golden = TestPaths.fixture("compare/report.md")
        if ProcessInfo.processInfo.environment["KATARIBE_UPDATE_GOLDEN"] == "1" {
            try markdown.write(to: golden, atomically: true, encoding: .utf8)
        }
        #expect(markdown == (try String(contentsOf: golden, encoding: .utf8)))
    }

    @Test("Markdown tables: every row has its header's number of columns, whatever the output contains")
    func markdownTableShape() throws {
        let markdown = MarkdownReport.render(try fixtureReport())
        /// Cell separators: pipes not escaped with a backslash.
        func separators(_ row: Substring) -> Int {
            var count = 0, previous: Character = " "
            for ch in row {
                if ch == "|", previous != "\\" { count += 1 }
                previous = ch
            }
            return count
        }
        var tables: [[Substring]] = [[]]
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("|") { tables[tables.count - 1].append(line) } else if !(tables.last?.isEmpty ?? true) { tables.append([]) }
        }
        tables.removeAll { $0.isEmpty }
        #expect(tables.count == 2 + 4 + 3)  // two prompt tables, four sample tables, speed, settings, errors
        for table in tables {
            let columns = separators(table[0])
            for row in table { #expect(separators(row) == columns, "row: \(row)") }
        }
        #expect(markdown.contains("| モデル | 出力 |\n| --- | --- |\n| calm | 昔々あるところに、おじいさんが<br>山へ \\| 川へ |\n"))
        #expect(markdown.contains("| sft | （未実行） |"))
    }

    @Test("Markdown cells escape pipes, line breaks, HTML and emphasis characters")
    func markdownEscaping() {
        #expect(MarkdownReport.cell("a|b\nc\r\nd\re") == "a\\|b<br>c<br>d<br>e")
        #expect(MarkdownReport.cell("<s>&</s>") == "&lt;s&gt;&amp;&lt;/s&gt;")
        #expect(MarkdownReport.cell("*x* _y_ `z` [l](u) #h ~s~ \\") == "\\*x\\* \\_y\\_ \\`z\\` \\[l\\](u) \\#h \\~s\\~ \\\\")
        #expect(MarkdownReport.cell("tab\there\u{1B}[0m") == "tab here\\[0m")
        #expect(MarkdownReport.cell("") == "（空）")
    }

    @Test("HTML escapes text and attributes and is self-contained")
    func html() throws {
        #expect(HTMLReport.escape("<script>alert('x') & \"y\"</script>") == "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;")
        #expect(HTMLReport.escape("改行\nそのまま\u{0}") == "改行\nそのまま\u{FFFD}")
        let plan = try smallPlan()
        let cell = try #require(plan.cell(model: "calm", prompt: "story"))
        let hostile = "</div><script src=\"http://evil.example/x.js\"></script><img src=x onerror=alert(1)>"
        let report = CompareReport(plan: plan, entries: [.sample(sampleRecord(cell: cell, index: 0, display: hostile))])
        let page = HTMLReport.render(report)
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(!page.contains("<script") && !page.contains("<img") && !page.contains("<link"))
        #expect(!page.contains("src=\"http") && !page.contains("href="))
        #expect(page.contains("&lt;/div&gt;&lt;script src=&quot;http://evil.example/x.js&quot;&gt;"))
        #expect(page.contains("<style>"))
    }

    @Test("HTML shows the grid, every sample, speed per model and the parameters")
    func htmlContent() throws {
        let page = HTMLReport.render(try fixtureReport())
        #expect(page.contains("<th>calm</th><th>sft</th>"))
        #expect(page.contains("全 2 サンプル（完了 2）"))
        #expect(page.contains("エラー（generate）: out of memory | retry"))
        #expect(page.contains("<td class=\"num\">4.3</td>"))  // sft's load time
        #expect(page.contains("&quot;temperature&quot; : 0.7"))
    }

    @Test("picks choose the shown sample; a pick whose sample is missing falls back to the first finished one")
    func picks() throws {
        let plan = try smallPlan()
        let picks = try Picks.parse(yaml: "story:\n  calm: 2\n  sft: 2\nrecipe: {calm: 1}\n", plan: plan)
        #expect(picks.pick(prompt: "story", model: "calm") == 2)
        let report = try fixtureReport(picks: picks)
        let story = try #require(report.rows.first { $0.prompt.id == "story" })
        #expect(story.cells.map(\.chosen) == [1, 0])
        #expect(story.cells.map(\.picked) == [1, 1])
        #expect(try Picks.parse(yaml: "", plan: plan) == Picks())
    }

    @Test("picks files are validated against the suite")
    func picksErrors() throws {
        let plan = try smallPlan()
        func kind(_ yaml: String) -> CompareInputError.Kind? {
            do { _ = try Picks.parse(yaml: yaml, file: "picks.yaml", plan: plan); return nil } catch { return error.kind }
        }
        #expect(kind("stroy: {calm: 1}") == .unknownKey(key: "stroy", suggestion: "story"))
        #expect(kind("story: {clam: 1}") == .unknownKey(key: "clam", suggestion: "calm"))
        #expect(kind("story: {calm: 3}") == .invalidValue(value: "3", reason: "must be between 1 and 2"))
        #expect(kind("story: {calm: two}") == .wrongType(expected: "an integer"))
        #expect(kind("story: calm") == .wrongType(expected: "a mapping of keys to values"))
        #expect(throws: CompareInputError.self) { try Picks.load(file: "/nonexistent/picks.yaml", plan: plan) }
    }

    @Test("speed per model: output tokens over generation seconds, and the latest load time")
    func stats() throws {
        let report = try fixtureReport()
        let calm = try #require(report.stats.first { $0.label == "calm" })
        #expect(calm.finished == 3 && calm.failed == 1 && calm.missing == 0)
        #expect(calm.outputTokens == 50)
        #expect(abs((calm.tokensPerSecond ?? 0) - 50.0 / 7.0) < 1e-9)
        let sft = try #require(report.stats.first { $0.label == "sft" })
        #expect(sft.loadSeconds == 4.3 && sft.missing == 3)
        #expect(!report.isComplete)
    }

    @Test("--report-only input: plan.json and results.jsonl rebuild the same reports")
    func rebuildFromFolder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let report = try fixtureReport()
        try CompareOutput.writePlan(report.plan, to: dir.url)
        let lines = try report.rows.flatMap { row in
            try row.cells.flatMap { c in try c.samples.compactMap { $0 }.map { try ResultEntry.sample($0).jsonLine() } }
        }
        try lines.reduce(Data(), +).write(to: dir.results)
        let rebuilt = CompareReport(plan: try CompareOutput.readPlan(from: dir.url), entries: try ResultsLog.read(directory: dir.url).entries)
        #expect(MarkdownReport.render(rebuilt).contains("おじいさんが<br>山へ"))
        #expect(throws: CompareOutputError.noPlan(directory: dir.url.appendingPathComponent("x").path)) {
            try CompareOutput.readPlan(from: dir.url.appendingPathComponent("x"))
        }
    }
}
