import Foundation
import KataribeCompare
import Testing

@Suite("Results store (results.jsonl)")
struct ResultsStoreTests {
    @Test("each append is one JSON line on disk at once, and a reopened store knows the finished samples")
    func appendAndReopen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        let cell = plan.cells[0]
        do {
            let store = try ResultsStore(directory: dir.url)
            try store.append(.sample(sampleRecord(cell: cell, index: 0, display: "line one\nline two | x")))
            // On disk before the store is closed.
            let text = try String(contentsOf: dir.results, encoding: .utf8)
            #expect(text.hasSuffix("\n"))
            #expect(text.split(separator: "\n").count == 1)
            try store.append(.error(errorRecord(cell: cell, index: 1)))
        }
        let reopened = try ResultsStore(directory: dir.url)
        #expect(reopened.entries.count == 2)
        #expect(reopened.isFinished(cellKey: cell.key, sampleIndex: 0))
        #expect(!reopened.isFinished(cellKey: cell.key, sampleIndex: 1))  // an error is not finished
        #expect(reopened.recoveryNotes.isEmpty)
        guard case .sample(let s) = reopened.entries[0] else { Issue.record("not a sample"); return }
        #expect(s.display == "line one\nline two | x")
        #expect(s == sampleRecord(cell: cell, index: 0, display: "line one\nline two | x"))
    }

    @Test("an incomplete last line (a write cut short) is truncated away with a note, and its sample is redone")
    func corruptTail() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        do {
            let store = try ResultsStore(directory: dir.url)
            try store.append(.sample(sampleRecord(cell: plan.cells[0], index: 0)))
            try store.append(.sample(sampleRecord(cell: plan.cells[0], index: 1)))
        }
        let intact = try Data(contentsOf: dir.results)
        let partial = try sampleRecord(cell: plan.cells[1], index: 0).jsonLinePrefix(40)
        try (intact + partial).write(to: dir.results)

        let store = try ResultsStore(directory: dir.url)
        #expect(store.recoveryNotes.count == 1)
        #expect(store.recoveryNotes[0].contains("line 3"))
        #expect(!store.isFinished(cellKey: plan.cells[1].key, sampleIndex: 0))
        #expect(store.isFinished(cellKey: plan.cells[0].key, sampleIndex: 1))
        let after = try Data(contentsOf: dir.results)
        #expect(after.prefix(intact.count) == intact)
        let lines = after.dropFirst(intact.count).split(separator: 0x0A)
        #expect(lines.count == 1)
        let note = try JSONDecoder().decode(ResultEntry.self, from: Data(lines[0]))
        guard case .note(let n) = note else { Issue.record("expected a note"); return }
        #expect(n.message.contains("removed 40 bytes"))
    }

    @Test("a complete but unparseable last line, or trailing NUL bytes, count as damage too")
    func garbageTail() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        do { try ResultsStore(directory: dir.url).append(.sample(sampleRecord(cell: plan.cells[0], index: 0))) }
        let intact = try Data(contentsOf: dir.results)
        try (intact + Data("{\"type\":\"sam\n".utf8) + Data(repeating: 0, count: 64)).write(to: dir.results)
        let store = try ResultsStore(directory: dir.url)
        #expect(store.recoveryNotes.count == 1)
        #expect(store.entries.count == 2)  // the sample and the repair note
        #expect(try Data(contentsOf: dir.results).prefix(intact.count) == intact)
    }

    @Test("damage in the middle is skipped with a warning, never truncated; unknown record types are kept")
    func middleDamage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        let a = try ResultEntry.sample(sampleRecord(cell: plan.cells[0], index: 0)).jsonLine()
        let b = try ResultEntry.sample(sampleRecord(cell: plan.cells[0], index: 1)).jsonLine()
        let content = a + Data("not json\n".utf8) + Data("{\"type\":\"future\",\"x\":1}\n".utf8) + b
        try content.write(to: dir.results)
        let store = try ResultsStore(directory: dir.url)
        #expect(store.recoveryNotes.count == 2)
        #expect(store.recoveryNotes.contains { $0.contains(":2: skipped a damaged line") })
        #expect(store.recoveryNotes.contains { $0.contains(":3: skipped a record this version does not know") })
        #expect(store.isFinished(cellKey: plan.cells[0].key, sampleIndex: 1))
        #expect(try Data(contentsOf: dir.results) == content)
    }

    @Test("many tasks appending at once through one store produce whole, distinct lines")
    func concurrentAppends() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        let store = try ResultsStore(directory: dir.url)
        let long = String(repeating: "長い出力", count: 2000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask { try store.append(.sample(sampleRecord(cell: plan.cells[i % 4], index: i, display: "\(i)" + long))) }
            }
            try await group.waitForAll()
        }
        let log = try ResultsLog.read(directory: dir.url)
        #expect(log.corruptTail == nil && log.warnings.isEmpty)
        #expect(Set(sampleIDs(in: log.entries)).count == 64)
        #expect(store.entries.count == 64)
    }

    @Test("a second run on the same output folder is refused while the first holds it")
    func exclusiveLock() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let first = try ResultsStore(directory: dir.url)
        #expect(throws: ResultsStoreError.locked(path: dir.url.path)) { try ResultsStore(directory: dir.url) }
        _ = first
    }

    @Test("an output folder that cannot be created is an error naming it")
    func cannotCreate() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let file = dir.url.appendingPathComponent("file")
        try Data().write(to: file)
        #expect(throws: ResultsStoreError.self) { try ResultsStore(directory: file.appendingPathComponent("sub")) }
    }

    @Test("atomic writes replace a file whole and leave no temporary file behind")
    func atomicWrite() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let target = dir.url.appendingPathComponent("report.md")
        try AtomicFile.write("old", to: target)
        try AtomicFile.write("new content", to: target)
        #expect(try String(contentsOf: target, encoding: .utf8) == "new content")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["report.md"])
        #expect(throws: ResultsStoreError.self) {
            try AtomicFile.write("x", to: dir.url.appendingPathComponent("missing/report.md"))
        }
    }
}

extension SampleRecord {
    /// The first `count` bytes of this record's line: what a write cut short leaves.
    func jsonLinePrefix(_ count: Int) throws -> Data {
        try ResultEntry.sample(self).jsonLine().prefix(count)
    }
}
