import ArgumentParser
import Foundation
import KataribeSupport
import KataribeModels

/// `kataribe inspect --model M [--json]`
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's architecture, parameter count, dtypes, files and memory estimate (and a GGUF file's metadata, tensor types, tokenizer and template).")

    @OptionGroup var location: ModelLocationArguments

    @Flag(name: .long, help: "Print JSON (see README: kataribe inspect --json).")
    var json = false

    func run() async throws {
        let folder = await location.locate()
        let info: ModelInspection
        do {
            info = try ModelLoader.inspect(directory: folder)
        } catch {
            CLIOutput.fail(error.description)
        }
        if json {
            CLIOutput.printJSON(info)
            return
        }
        let dtypes = info.parametersByDType.sorted { $0.key < $1.key }
            .map { "\($0.key): \(CLIOutput.grouped($0.value))" }.joined(separator: ", ")
        print("""
        model        \(info.directory)
        type         \(info.modelType) (\(info.architectures.joined(separator: ", ")))
        format       \(info.format)
        files        \(info.files.map { "\($0.name) (\(CLIOutput.bytes($0.bytes)))" }.joined(separator: ", "))
        parameters   \(CLIOutput.grouped(info.parameterCount)) (\(dtypes))
        weights      \(CLIOutput.bytes(info.weightBytes))
        kv cache     \(CLIOutput.bytes(info.kvCacheBytes)) for the full context of \(info.contextLength) tokens (\(info.kvCacheFormat))
        memory       \(CLIOutput.bytes(info.estimatedMemoryBytes)) estimated
        shape        \(info.layers) layers, hidden \(info.hiddenSize), \(info.attentionHeads) heads, \
        intermediate \(info.intermediateSize), vocab \(info.vocabularySize)
        attention    rotary \(info.rotaryDimensions) dims per head (base \(info.rotaryBase)), \
        \(info.parallelResidual ? "parallel" : "sequential") residual, \(info.activation), \
        \(info.tiedEmbeddings ? "tied" : "untied") output embedding
        """)
        if let gguf = info.gguf { printGGUF(gguf) }
    }

    private func printGGUF(_ gguf: GGUFSummary) {
        let types = gguf.tensorTypes.sorted { $0.value.bytes > $1.value.bytes }.map { name, type in
            "\(name) ×\(type.tensors) (\(CLIOutput.grouped(type.parameters)) parameters, \(CLIOutput.bytes(type.bytes)))"
        }
        let template = gguf.chatTemplate.map { "\($0.utf8.count) bytes, " + UntrustedText.quoted(String($0.prefix(60)), limit: 80) + "…" }
        print("""
        gguf         v\(gguf.version), \(gguf.architecture)\(gguf.name.map { " \"\($0)\"" } ?? ""), \
        \(String(format: "%.2f", gguf.bitsPerWeight)) bits per weight
        tensors      \(types.joined(separator: ", "))
        tokenizer    \(gguf.tokenizerModel ?? "none")\(gguf.tokenizerPre.map { " (pre: \($0))" } ?? ""), \
        \(gguf.vocabularySize.map(CLIOutput.grouped) ?? "?") tokens
        template     \(template ?? "none")
        metadata
        """)
        for entry in gguf.metadata where entry.count == 2 {
            print("  \(UntrustedText.quoted(entry[0], limit: 60)) = \(UntrustedText.quoted(entry[1], limit: 100))")
        }
    }
}
