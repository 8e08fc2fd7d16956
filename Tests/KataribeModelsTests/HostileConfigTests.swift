import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeModels

@Suite("Hostile model folders")
struct HostileConfigTests {
    @Test("a FIFO named config.json is refused at once; an unknown model_type full of escapes is quoted safely")
    func fifoAndEscapes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config.json")
        #expect(mkfifo(config.path, 0o644) == 0)
        let call = BlockingCall { () -> String in
            do { _ = try ModelLoader.readModelType(directory: directory); return "read" } catch { return "\(error)" }
        }
        guard let message = try await call.value(within: .seconds(20)) else {
            releaseFIFOReader(config)
            Issue.record("reading a FIFO blocked")
            return
        }
        #expect(message.contains("not a regular file (a FIFO)"))

        try FileManager.default.removeItem(at: config)
        let type = "\u{1B}[31m" + String(repeating: "y", count: 50_000)
        try Data(#"{"model_type": "\u001b[31m\#(String(repeating: "y", count: 50_000))"}"#.utf8).write(to: config)
        do {
            _ = try ModelLoader.load(directory: directory)
            Issue.record("loaded")
        } catch {
            let text = "\(error)"
            #expect(!text.contains(type.prefix(6)))
            #expect(text.contains("\\u{1B}[31m"))
            #expect(text.count < 2000)
        }
    }
}
