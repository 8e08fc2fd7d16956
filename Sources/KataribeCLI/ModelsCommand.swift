import ArgumentParser
import Foundation
import KataribeApp
import KataribeGeneration
import KataribeHub

/// `kataribe models`: the presets Kataribe knows. `--local` lists the models in the Hugging Face cache.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the model presets (demo models and known hub models) or, with --local, the cached models.",
        discussion: """
        Without --local: every preset with its source (hub repository or Models/ folder), weight dtype, \
        tokenizer kind, prompt format and the generation defaults from its model card, then the URL of each \
        card. Every command that \
        takes a model (generate, chat, serve, score, inspect, bench, tokenize --tokenizer, download, \
        suite model:) takes a preset id, a hub id, a demo model or a folder. With --json, the presets as a JSON array.
        """
    )

    @Flag(help: "List the models in the local Hugging Face cache (HF_HUB_CACHE).")
    var local = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        guard local else {
            if json {
                print(try ModelPresetListing.json())
            } else {
                print(ModelPresetListing.table(), terminator: "")
                print("\n" + ModelPresetListing.sources(), terminator: "")
                let demos = DemoModelSource()
                let found = DemoModelSource.demoPresets.compactMap { preset in
                    (try? demos.folder(for: preset)).map { "\(preset.id) (\($0.path))" }
                }
                print(found.isEmpty ? "\nDemo models: none found (set KATARIBE_MODELS_DIR)." : "\nDemo models found: \(found.joined(separator: ", "))")
            }
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
