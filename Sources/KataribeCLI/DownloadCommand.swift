import ArgumentParser
import Foundation
import KataribeApp
import KataribeHub

/// `kataribe download NAME`: brings a model into the Hugging Face cache and prints its folder.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a model from the Hugging Face Hub into the shared cache and print its folder.",
        discussion: """
        Fetches config.json, generation_config.json, the tokenizer files and one weight format \
        (safetensors when available, else PyTorch .bin, following sharded indexes). Interrupted \
        downloads resume. The cache is the one huggingface_hub uses (HF_HUB_CACHE, HF_HOME); \
        HF_TOKEN authenticates, HF_ENDPOINT selects the server, HF_HUB_OFFLINE=1 answers from the cache only.

        NAME is what --model of the other commands takes: a Hugging Face id, or a preset id (open-calm-7b \
        downloads cyberagent/open-calm-7b). Demo models are built in and need no download.
        """
    )

    @Argument(help: ArgumentHelp("Model id on the hub (cyberagent/open-calm-7b) or a preset id (open-calm-7b).",
                                 valueName: "name"))
    var id: String

    @Option(help: "Branch, tag or commit hash.")
    var revision: String = "main"

    @Flag(help: "Print a JSON object instead of the folder path.")
    var json = false

    func run() async throws {
        let resolver = ModelResolver()
        let repo: String
        do {
            switch try resolver.reference(for: id) {
            case .hub(let name, _):
                repo = name
            case .demo(let preset):
                // Nothing to fetch; the folder is printed all the same, so scripts get a usable path.
                let folder = try resolver.demos.folder(for: preset)
                Terminal.err("\(id) is a demo model built into Kataribe (\(folder.path)); nothing to download\n")
                print(json ? try jsonText(BuiltInResult(builtIn: true, path: folder.path)) : folder.path)
                return
            case .folder(let path):
                CLIOutput.fail("\(path) is a folder, not a model on the hub; give a Hugging Face id (ORG/NAME) or a preset id")
            }
        } catch {
            CLIOutput.fail("\(error)")
        }
        let renderer = ProgressRenderer(terminal: Terminal.stderrTakesEscapes)
        let snapshot: Snapshot
        do {
            snapshot = try await resolver.hub.download(repo: repo, revision: revision) { renderer.render($0) }
        } catch {
            renderer.finish()  // ends the bar's line before the message
            CLIOutput.fail("\(error)")
        }
        renderer.finish()
        if json {
            let object = DownloadResult(
                repo: snapshot.repo.rawValue, revision: snapshot.revision, commit: snapshot.commit,
                path: snapshot.folder.path, downloadedFiles: snapshot.downloadedFiles, downloadedBytes: snapshot.downloadedBytes
            )
            print(try jsonText(object))
        } else {
            print(snapshot.folder.path)
        }
    }
}

private struct BuiltInResult: Encodable {
    let builtIn: Bool
    let path: String

    enum CodingKeys: String, CodingKey {
        case path
        case builtIn = "built_in"
    }
}

private struct DownloadResult: Encodable {
    let repo: String
    let revision: String
    let commit: String
    let path: String
    let downloadedFiles: [String]
    let downloadedBytes: Int64

    enum CodingKeys: String, CodingKey {
        case repo, revision, commit, path
        case downloadedFiles = "downloaded_files", downloadedBytes = "downloaded_bytes"
    }
}
