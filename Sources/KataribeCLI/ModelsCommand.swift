import ArgumentParser
import Foundation
import KataribeHub

/// `kataribe models`: what can be run. `--local` lists the models in the Hugging Face cache.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List models: with --local, those in the Hugging Face cache (revisions, size on disk)."
    )

    @Flag(help: "List the models in the local Hugging Face cache (HF_HUB_CACHE).")
    var local = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        guard local else {
            // The generation presets will be listed here; until then say where the models are.
            print("Use `kataribe models --local` to list the models in the Hugging Face cache.")
            return
        }
        let cache = HubClient().cache
        let models = try cache.models()
        if json {
            print(try jsonText(models))
            return
        }
        guard !models.isEmpty else {
            print("No models in \(cache.root.path). Fetch one with: kataribe download ORG/NAME")
            return
        }
        print("Models in \(cache.root.path):")
        for model in models {
            var line = "\(model.repo)  \(ByteCountText.format(model.sizeOnDisk))"
            if model.partialBytes > 0 { line += "  (+\(ByteCountText.format(model.partialBytes)) partial, resumes on next download)" }
            print(line)
            for revision in model.revisions {
                let refs = revision.refs.isEmpty ? "" : " (\(revision.refs.joined(separator: ", ")))"
                let state = revision.isComplete ? "" : "  incomplete"
                print("  \(revision.commit.prefix(12))\(refs)  \(revision.files) files  \(ByteCountText.format(revision.sizeOnDisk))\(state)")
            }
        }
    }
}
