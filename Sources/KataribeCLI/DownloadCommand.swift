import ArgumentParser
import Foundation
import KataribeHub

/// `kataribe download ORG/NAME`: brings a model into the Hugging Face cache and prints its folder.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a model from the Hugging Face Hub into the shared cache and print its folder.",
        discussion: """
        Fetches config.json, generation_config.json, the tokenizer files and one weight format \
        (safetensors when available, else PyTorch .bin, following sharded indexes). Interrupted \
        downloads resume. The cache is the one huggingface_hub uses (HF_HUB_CACHE, HF_HOME); \
        HF_TOKEN authenticates, HF_ENDPOINT selects the server, HF_HUB_OFFLINE=1 answers from the cache only.
        """
    )

    @Argument(help: "Model id on the hub, e.g. cyberagent/open-calm-7b.")
    var id: String

    @Option(help: "Branch, tag or commit hash.")
    var revision: String = "main"

    @Flag(help: "Print a JSON object instead of the folder path.")
    var json = false

    func run() async throws {
        let client = HubClient()
        let renderer = ProgressRenderer(terminal: isatty(STDERR_FILENO) == 1)
        let snapshot: Snapshot
        do {
            snapshot = try await client.download(repo: id, revision: revision) { renderer.render($0) }
        } catch {
            // End the bar's line; ArgumentParser then prints the HubError's description.
            renderer.finish()
            throw error
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

private struct DownloadResult: Encodable {
    let repo: String
    let revision: String
    let commit: String
    let path: String
    let downloadedFiles: [String]
    let downloadedBytes: Int64
}

func jsonText<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
