import ArgumentParser
import Foundation
import KataribeApp
import KataribeCheckpoint
import KataribeHub
import KataribeTokenizers

extension TokenizerPreference: ExpressibleByArgument {}

/// `kataribe tokenize`: encode text with a model's tokenizer and show ids and pieces.
struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode text with a tokenizer and print ids and pieces.",
        discussion: """
        --tokenizer is a model folder (tokenizer.json and/or a SentencePiece model, with tokenizer_config.json), \
        a tokenizer.json file, a SentencePiece .model file, a GGUF file (its embedded tokenizer, converted as \
        transformers' gguf_file= does), or a model name as --model of the other commands \
        takes it (demo model, preset id, Hugging Face id). A folder gets transformers' behaviour; a \
        single file gets the plain tokenizers / sentencepiece behaviour; a named model gets its preset's \
        tokenizer kind (e.g. slow for rinna) unless --kind says otherwise.

        --jsonl reads lines {"text": ...} on stdin and writes {"ids": [...], "pieces": [...], "decoded": "..."} \
        per line. --benchmark FILE encodes every line of FILE and reports the time.
        """
    )

    @Option(name: .long, help: ArgumentHelp(
        "Model folder, tokenizer.json, SentencePiece .model file, GGUF file, or a model name (demo model, preset id, Hugging Face id).",
        valueName: "path-or-name"))
    var tokenizer: String

    @Option(name: .long, help: "Text to encode.")
    var text: String?

    @Flag(name: .long, help: "Read {\"text\": ...} lines on stdin and write one JSON result per line.")
    var jsonl = false

    @Flag(name: .long, help: "Add the tokenizer's special tokens (its template, e.g. a trailing </s>).")
    var addSpecialTokens = false

    @Flag(name: .long, help: "Drop special tokens when decoding.")
    var skipSpecialTokens = false

    @Option(name: .long, help: ArgumentHelp(
        "For a folder: automatic (tokenizer.json if present), fast or slow (SentencePiece).",
        discussion: "Default: automatic for a path, the preset's kind for a named model."))
    var kind: TokenizerPreference?

    @Option(name: .long, help: "Encode each line of this file (no special tokens) and report the time.")
    var benchmark: String?

    @Option(name: .customLong("repeat"), help: "Benchmark runs; the best is reported.")
    var repetitions: Int = 3

    func run() async throws {
        let (url, presetKind) = await source()
        let loaded: any Tokenizer
        if GGUFModelFile.isGGUF(url) {
            // The tokenizer embedded in the file, as transformers converts it (`gguf_file=`).
            do { loaded = try GGUFTokenizerBuilder.make(from: GGUFFile.read(url: url)) } catch { CLIOutput.fail("\(error)") }
        } else {
            loaded = try AutoTokenizer.load(from: url, preference: kind ?? presetKind ?? .automatic)
        }
        if let benchmark {
            try runBenchmark(loaded, file: benchmark)
        } else if jsonl {
            try runJSONLines(loaded)
        } else if let text {
            let encoded = loaded.encodeWithPieces(text, addSpecialTokens: addSpecialTokens)
            print("ids: [" + encoded.ids.map(String.init).joined(separator: ", ") + "]")
            print("pieces: [" + encoded.pieces.map(TokenizeJSONLines.quoted).joined(separator: ", ") + "]")
        } else {
            throw ValidationError("give --text, --jsonl or --benchmark")
        }
    }

    /// What `--tokenizer` names, and the tokenizer kind of its preset when it named a model. A path
    /// (or a tokenizer file name) is read as it is, with the plain libraries' or `AutoTokenizer`'s
    /// behaviour that the parity checks compare against; anything else is a model name.
    private func source() async -> (url: URL, presetKind: TokenizerPreference?) {
        let expanded = (tokenizer as NSString).expandingTildeInPath
        let isFileName = [".json", ".model", ".gguf"].contains { tokenizer.lowercased().hasSuffix($0) }
        if FileManager.default.fileExists(atPath: expanded) || isFileName || ModelLocator.looksLikePath(tokenizer) {
            return (URL(fileURLWithPath: expanded), nil)
        }
        do {
            let resolved = try await ModelResolver().resolve(tokenizer)
            // A guessed preset says nothing the files do not: such a folder gets `automatic`, as a path would.
            return (resolved.folder, resolved.presetOrigin == .inferred ? nil : resolved.preset.tokenizer)
        } catch {
            CLIOutput.fail(error.description)
        }
    }

    private func runJSONLines(_ tokenizer: any Tokenizer) throws {
        let input = FileHandle.standardInput.readDataToEndOfFile()
        var output = ""
        var lineNumber = 0
        for line in input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard !line.isEmpty else { continue }
            let text: String
            do {
                text = try TokenizeJSONLines.text(fromLine: Array(line), lineNumber: lineNumber)
            } catch {
                FileHandle.standardOutput.write(Data(output.utf8))  // the lines before the bad one
                throw error
            }
            let encoded = tokenizer.encodeWithPieces(text, addSpecialTokens: addSpecialTokens)
            let decoded = tokenizer.decode(encoded.ids, skipSpecialTokens: skipSpecialTokens)
            output += TokenizeJSONLines.outputLine(ids: encoded.ids, pieces: encoded.pieces, decoded: decoded)
            output += "\n"
            if output.utf8.count > 1 << 16 {
                FileHandle.standardOutput.write(Data(output.utf8))
                output = ""
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    private func runBenchmark(_ tokenizer: any Tokenizer, file: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        guard String(data: data, encoding: .utf8) != nil else {
            throw TokenizerError.invalidInput(reason: "\(file) is not valid UTF-8")
        }
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        var bestCPU = Double.infinity, bestWall = Double.infinity
        var tokens = 0
        for _ in 0..<max(repetitions, 1) {
            let wallStart = Date()
            let cpuStart = clock()
            var count = 0
            for line in lines { count += tokenizer.encode(line, addSpecialTokens: false).count }
            let cpu = Double(clock() - cpuStart) / Double(CLOCKS_PER_SEC)
            bestCPU = min(bestCPU, cpu)
            bestWall = min(bestWall, Date().timeIntervalSince(wallStart))
            tokens = count
        }
        let mebibytes = Double(data.count) / Double(1 << 20)
        print(String(format: "%@: cpu %.3f s (%.2f MiB/s)  wall %.3f s  lines=%d  tokens=%d",
                     "\(type(of: tokenizer))", bestCPU, mebibytes / bestCPU, bestWall, lines.count, tokens))
    }
}
