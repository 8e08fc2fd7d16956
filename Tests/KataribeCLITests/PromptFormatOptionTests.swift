import Foundation
import Testing

@Suite("--format on the command line")
struct PromptFormatOptionTests {
    @Test("an unknown --format is a usage error listing the formats (template added)")
    func unknownName() async throws {
        let result = try await KataribeBinary.run(["generate", "--model", "Tests/Fixtures/generation-e2e/calm", "--prompt", "x",
                                                   "--format", "rinna_chat"])
        #expect(result.status == 64)
        #expect(result.stderr.contains(
            "error: The value 'rinna_chat' is invalid for '--format <format>'. Please provide one of 'plain', 'rinna-chat' or 'template'."))
    }

    @Test("help lists the format names")
    func help() async throws {
        for command in ["generate", "chat", "serve"] {
            let result = try await KataribeBinary.run([command, "--help"])
            // Help text wraps at 80 columns wherever the words fall; compare with the line breaks undone.
            let words = result.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(words.contains("(values: plain, rinna-chat, template)"), "\(command)")
        }
    }

    @Test("chat refuses a format without turns with the same message as before")
    func chatNeedsTurns() async throws {
        let result = try await KataribeBinary.run(["chat", "--model", "Tests/Fixtures/generation-e2e/calm", "--format", "plain"], input: "x\n")
        #expect(result.status == 1)
        #expect(result.stderr.contains("uses the plain prompt format, which has no chat turns; "
            + "chat needs an instruction model such as demo-rinna-sft (or force --format rinna-chat)"))
    }
}
