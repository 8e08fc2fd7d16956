import Foundation
import KataribeTestSupport
import Testing

private let calm = "Tests/Fixtures/generation-e2e/calm"

private func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

/// A fresh folder under the system temporary folder, removed by `cleanup`.
private struct Scratch {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-cli-\(UUID().uuidString)")
    init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

@Suite("What every command has in common: errors, JSON keys, escape codes", .timeLimit(.minutes(3)))
struct CLIConventionsTests {
    /// The error line: lowercase `error:`, on stderr, a status other than 0, never ArgumentParser's `Error:`.
    private func expectErrorLine(_ result: KataribeBinary.Result, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status != 0, sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("error: " + message), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("Error:"), "\(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test("a bad argument, a failed check, a failed load and a thrown error all read `error: <message>`")
    func oneErrorStyle() async throws {
        let unknownOption = try await KataribeBinary.run(["generate", "--model", calm, "--prompt", "x", "--bogus"])
        expectErrorLine(unknownOption, "Unknown option '--bogus'")
        #expect(unknownOption.status == 64 && unknownOption.stderr.contains("Usage: kataribe generate"))

        let check = try await KataribeBinary.run(["generate", "--model", calm])
        expectErrorLine(check, "give --prompt or --prompt-file")

        let load = try await KataribeBinary.run(["generate", "--model", "no-such-model", "--prompt", "x"])
        expectErrorLine(load, "unknown model \"no-such-model\"")
        #expect(load.status == 1)

        // download used to let ArgumentParser print the hub's error.
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let offline = ["HF_HUB_CACHE": scratch.url.appendingPathComponent("hub").path, "HF_HUB_OFFLINE": "1"]
        let download = try await KataribeBinary.runWithEnvironment(["download", "org/absent"], environment: offline)
        expectErrorLine(download, "")
        #expect(download.status == 1 && download.stderr.contains("org/absent"))
    }

    @Test("compare's input errors keep their file:line:column inside the one style, and exit 2")
    func compareErrors() async throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let suite = scratch.url.appendingPathComponent("bad.yaml")
        try Data("models: [demo-calm]\nprompts:\n  - {id: a, completion: x}\ngeneration: {top_p: 1.5}\n".utf8).write(to: suite)
        let result = try await KataribeBinary.run(["compare", suite.path, "--output", scratch.url.appendingPathComponent("out").path])
        expectErrorLine(result, "\(suite.path):4:")
        #expect(result.status == 2 && result.stderr.contains("generation.top_p: invalid value 1.5: must be between 0 and 1"))
    }

    @Test("file text in an error is escaped: a model folder's config cannot write escape codes to the terminal")
    func untrustedTextEscaped() async throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        try Data(#"{"model_type": "\u001b[31mevil"}"#.utf8).write(to: scratch.url.appendingPathComponent("config.json"))
        let result = try await KataribeBinary.run(["inspect", "--model", scratch.url.path])
        #expect(result.status != 0 && result.stderr.hasPrefix("error: "), "\(result.stderr)")
        #expect(!result.stderr.contains("\u{1B}") && result.stderr.contains("\\u{1B}[31mevil"), "\(result.stderr)")
    }

    @Test("download --json names its keys in snake_case, like every other --json output")
    func downloadJSON() async throws {
        let demo = try await KataribeBinary.run(["download", "demo-calm", "--json"])
        #expect(demo.status == 0, "\(demo.stderr)")
        let builtIn = try jsonObject(demo.stdout)
        #expect(Set(builtIn.keys) == ["built_in", "path"] && builtIn["built_in"] as? Bool == true)

        // A complete snapshot in an offline cache answers without the network, as a download would.
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let repo = scratch.url.appendingPathComponent("hub/models--org--cached")
        let commit = String(repeating: "a", count: 40)
        let snapshot = repo.appendingPathComponent("snapshots/\(commit)")
        try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: repo.appendingPathComponent("refs/main"))
        for file in ["config.json", "model.safetensors"] { try Data("{}".utf8).write(to: snapshot.appendingPathComponent(file)) }
        let result = try await KataribeBinary.runWithEnvironment(
            ["download", "org/cached", "--json"],
            environment: ["HF_HUB_CACHE": scratch.url.appendingPathComponent("hub").path, "HF_HUB_OFFLINE": "1"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try jsonObject(result.stdout)
        #expect(Set(object.keys) == ["repo", "revision", "commit", "path", "downloaded_files", "downloaded_bytes"])
        #expect(object["commit"] as? String == commit && object["downloaded_bytes"] as? Int == 0)
    }

    @Test("sampling settings outside their domain are refused before the model loads, naming the flag")
    func samplingFlags() async throws {
        for (flag, value, message) in [
            ("--top-p", "1.5", "--top-p must be between 0 and 1 (got 1.5)"),
            ("--temperature", "-1", "--temperature must be at least 0 (0 picks the most likely token) (got -1.0)"),
            ("--top-k", "-3", "--top-k must be 0 (disabled) or a positive integer (got -3)"),
            ("--typical-p", "0", "--typical-p must be greater than 0 and at most 1 (got 0.0)"),
            ("--repetition-penalty", "0", "--repetition-penalty must be greater than 0 (got 0.0)"),
            ("--max-new-tokens", "0", "--max-new-tokens must be greater than 0 (got 0)"),
        ] {
            // A model that does not exist: the check comes first, so its name is never looked up.
            // `--flag=value`: ArgumentParser reads a separate "-1" as an option.
            let result = try await KataribeBinary.run(["generate", "--model", "no-such-model", "--prompt", "x", "--greedy", "\(flag)=\(value)"])
            expectErrorLine(result, message)
            #expect(result.status == 64, "\(flag)")
        }
        let chat = try await KataribeBinary.run(["chat", "--model", "no-such-model", "--top-p", "1.5"], input: "x\n")
        expectErrorLine(chat, "--top-p must be between 0 and 1")
        let zero = try await KataribeBinary.run(["generate", "--model", calm, "--prompt", "x", "--do-sample", "--temperature", "0",
                                                 "--max-new-tokens", "2"])
        #expect(zero.status == 0, "temperature 0 picks the most likely token: \(zero.stderr)")
    }

    @Test("progress escape codes reach a terminal, but not with NO_COLOR set (https://no-color.org)")
    func noColor() async throws {
        let arguments = ["bench", "--model", "demo-rinna-sft", "--prompt-tokens", "4", "--gen-tokens", "2", "--context", "0", "--threads", "1"]
        let plain = try PseudoTerminalSession(arguments, environment: ["NO_COLOR": "1", "TERM": "xterm-256color"])
        #expect(await plain.exitStatus() == 0)
        #expect(await plain.waitFor { $0.contains("peak memory") }, "\(plain.screen)")
        #expect(!plain.screen.contains("\u{1B}["), "\(plain.screen.debugDescription)")

        // An empty NO_COLOR counts as unset.
        let styled = try PseudoTerminalSession(arguments, environment: ["NO_COLOR": "", "TERM": "xterm-256color"])
        #expect(await styled.exitStatus() == 0)
        #expect(await styled.waitFor { $0.contains("peak memory") }, "\(styled.screen)")
        #expect(styled.screen.contains("\u{1B}[2K"), "\(styled.screen.debugDescription)")
    }
}
