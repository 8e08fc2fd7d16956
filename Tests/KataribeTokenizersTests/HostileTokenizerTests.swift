import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeTokenizers

/// Tokenizer files built to slow down or block the loader.
@Suite("Hostile tokenizer files")
struct HostileTokenizerTests {
    @Test("16,384 added tokens build the matchers once (they were rebuilt per token: 48 s) and all still match")
    func manyAddedTokens() throws {
        let count = 16_384
        let added = (0..<count).map { #"{"id": \#(2 + $0), "content": "<extra_\#($0)>", "special": true}"# }
        let text = #"{"version": "1.0", "model": {"type": "WordLevel", "vocab": {"a": 0, "[UNK]": 1}, "unk_token": "[UNK]"}, "added_tokens": [\#(added.joined(separator: ","))]}"#
        let tokenizer = try HFTokenizer(jsonBytes: Array(text.utf8), path: "many.json")
        #expect(tokenizer.addedVocabulary.tokens.count == count)
        #expect(tokenizer.addedVocabulary.matcherBuilds == 1)
        #expect(tokenizer.encode("a<extra_0>a<extra_16383><extra_9999>", addSpecialTokens: false) == [0, 2, 0, 2 + 16_383, 2 + 9_999])
    }

    @Test("a FIFO or a directory named tokenizer.json is refused at once instead of blocking the read")
    func fifo() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-fifo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("tokenizer.json")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        let call = BlockingCall { () -> String in
            do { _ = try HFTokenizer(contentsOf: fifo); return "loaded" } catch { return "\(error)" }
        }
        guard let message = try await call.value(within: .seconds(20)) else {
            releaseFIFOReader(fifo)
            Issue.record("reading a FIFO blocked")
            return
        }
        #expect(message.contains("not a regular file (a FIFO)"))
        #expect(throws: TokenizerError.self) { try HFTokenizer(contentsOf: directory) }
    }


    @Test("a split pattern nesting 100,000 groups is invalidRegex, not a stack overflow")
    func deepRegex() throws {
        let pattern = String(repeating: "(", count: 100_000) + "a" + String(repeating: ")", count: 100_000)
        let text = #"{"version": "1.0", "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\#(pattern)"}, "behavior": "Isolated", "invert": false}, "model": {"type": "WordLevel", "vocab": {"a": 0, "[UNK]": 1}, "unk_token": "[UNK]"}}"#
        #expect {
            _ = try HFTokenizer(jsonBytes: Array(text.utf8), path: "deep.json")
        } throws: { error in
            guard case TokenizerError.invalidRegex(_, let reason) = error else { return false }
            return reason.contains("nested deeper")
        }
    }
}
