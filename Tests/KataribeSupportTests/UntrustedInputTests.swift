import Foundation
import Testing
@testable import KataribeSupport

@Suite("Untrusted text in messages")
struct UntrustedTextTests {
    @Test("control characters, DEL, C1 and bidi overrides become visible escapes")
    func escapes() {
        #expect(UntrustedText.quoted("a\u{1B}[2Jb\u{07}\u{7F}\u{9B}\u{202E}c") == "a\\u{1B}[2Jb\\u{7}\\u{7F}\\u{9B}\\u{202E}c")
        #expect(UntrustedText.quoted("line\nnext\ttab\r") == "line\\nnext\\ttab\\r")
        #expect(UntrustedText.quoted("日本語のテンソル名") == "日本語のテンソル名")
    }

    @Test("a quoted piece is cut after its limit with an ellipsis; a message keeps its newlines and tabs")
    func limits() {
        #expect(UntrustedText.quoted(String(repeating: "x", count: 1_000_000), limit: 5) == "xxxxx…")
        #expect(UntrustedText.quoted("12345", limit: 5) == "12345")
        #expect(UntrustedText.message("first\n\tsecond\u{1B}]0;title\u{07}") == "first\n\tsecond\\u{1B}]0;title\\u{7}")
        #expect(UntrustedText.message(String(repeating: "y", count: 10_000), limit: 10) == "yyyyyyyyyy… (message cut)")
    }
}

@Suite("Untrusted files")
struct UntrustedFileTests {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-support-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("a regular file is read whole; a directory and a FIFO are refused without blocking; a size limit is checked before reading")
    func regularFilesOnly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("a.json")
        try Data("{\"a\": 1}".utf8).write(to: file)
        #expect(try UntrustedFile.read(file) == Array("{\"a\": 1}".utf8))
        #expect(throws: UntrustedFileError.tooLarge(path: file.path, size: 8, limit: 4)) { try UntrustedFile.read(file, limit: 4) }
        #expect(throws: UntrustedFileError.notARegularFile(path: directory.path, kind: "a directory")) { try UntrustedFile.read(directory) }
        let fifo = directory.appendingPathComponent("fifo")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        // open(2) with O_NONBLOCK returns at once for a FIFO with no writer; fstat then refuses it.
        #expect(throws: UntrustedFileError.notARegularFile(path: fifo.path, kind: "a FIFO")) { try UntrustedFile.read(fifo) }
        let missing = directory.appendingPathComponent("missing")
        #expect(throws: UntrustedFileError.cannotOpen(path: missing.path, reason: "no such file or directory")) { try UntrustedFile.read(missing) }
    }
}
