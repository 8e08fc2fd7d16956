import ArgumentParser

@main
struct Kataribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kataribe",
        abstract: "Run Japanese language models locally and compare them side by side.",
        discussion: """
        Kataribe loads Hugging Face GPT-NeoX checkpoints (open-calm, rinna japanese-gpt-neox) and their \
        tokenizers, generates text with the same semantics as transformers, and compares models.
        """,
        version: KataribeVersion.current,
        subcommands: [
            InspectCommand.self, ScoreCommand.self, TokenizeCommand.self,
            DownloadCommand.self, ModelsCommand.self, CompareCommand.self,
            GenerateCommand.self, ChatCommand.self, ServeCommand.self, BenchCommand.self,
            EvalCommand.self,
        ]
    )

    /// ArgumentParser's `main`, except that failures are reported in the CLI's one style
    /// (`error: <message>` on stderr, `CLIOutput.exit(reporting:)`) instead of its "Error: ".
    static func main() async {
        do {
            var command = try await asyncParseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            CLIOutput.exit(reporting: error)
        }
    }
}

enum KataribeVersion {
    // The git tag of a release carries the same number (semver; see README "Using Kataribe as a library").
    static let current = "0.9.0"
}
