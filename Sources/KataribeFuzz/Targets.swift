import Foundation
import KataribeApp
import KataribeCheckpoint
import KataribeCompare
import KataribeModels
import KataribeServer
import KataribeTemplates
import KataribeTokenizers

/// What one input did: parsed, or was refused with a typed error. Anything else (a crash, a trap,
/// a hang) is caught by the runner's signal handler and watchdog.
enum Outcome { case accepted, rejected }

/// A parser of untrusted bytes, its seeds (committed under Tests/Fuzz/seeds/<name>, plus fixture
/// files that already exist) and the tokens its format is made of.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let seedPaths: [String]
    let dictionary: [String]
    let maximumSize: Int
    let run: @Sendable (_ bytes: [UInt8], _ scratch: URL) -> Outcome

    static let jsonTokens = ["{", "}", "[", "]", ",", ":", "\"", "\\u0000", "\\ud800", "null", "true", "-1", "1e999",
                             "9999999999999999999", "0.5", "\"\":", "[[[[[[[[", "{\"a\":"]

    static let all: [FuzzTarget] = [
        FuzzTarget(
            name: "safetensors", summary: "safetensors header and data section (SafetensorsReader)",
            seedPaths: ["Tests/Fuzz/seeds/safetensors"],
            dictionary: jsonTokens + ["\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F16\"", "\"BF16\"", "\"I64\""],
            maximumSize: 1 << 20
        ) { bytes, scratch in
            let url = scratch.appendingPathComponent("model.safetensors")
            return readTensors(bytes, url) { try SafetensorsReader.read(url: $0) }
        },
        FuzzTarget(
            name: "gguf", summary: "GGUF header, metadata, tensor entries and layout (GGUFFile), then every tensor's bytes",
            seedPaths: ["Tests/Fuzz/seeds/gguf"],
            // Little-endian u32 type ids (value types: array, string, bool, uint32; ggml types Q4_0,
            // Q4_K, an IQ type), small u64 lengths, and the keys the reader interprets itself.
            dictionary: ["GGUF", "\u{02}\u{00}\u{00}\u{00}", "\u{03}\u{00}\u{00}\u{00}", "\u{09}\u{00}\u{00}\u{00}",
                         "\u{08}\u{00}\u{00}\u{00}", "\u{07}\u{00}\u{00}\u{00}", "\u{04}\u{00}\u{00}\u{00}",
                         "\u{0C}\u{00}\u{00}\u{00}", "\u{10}\u{00}\u{00}\u{00}", "\u{20}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}",
                         "\u{00}\u{01}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}", "\u{11}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}general.alignment",
                         "general.architecture", "tokenizer.ggml.tokens"],
            maximumSize: 1 << 16
        ) { bytes, scratch in
            let url = scratch.appendingPathComponent("model.gguf")
            guard (try? Data(bytes).write(to: url)) != nil else { return .rejected }
            guard let file = try? GGUFFile.read(url: url) else { return .rejected }
            // Every byte a tensor claims is read (a view past the mapping faults here), and the
            // dense ones are converted as a model loader would.
            for tensor in file.tensors {
                _ = file.bytes(of: tensor).bytes.reduce(0) { $0 &+ Int($1) }
                if let dense = file.denseTensor(tensor), dense.dtype.isWeightType { _ = dense.floats() }
            }
            for key in file.metadataKeys {
                guard let value = file[key] else { continue }
                _ = (value.int, value.float, value.string, value.intArray, value.floatArray, value.stringArray?.count)
            }
            return .accepted
        },
        FuzzTarget(
            name: "torch-zip", summary: "torch .bin zip container, pickle and tensor views (TorchCheckpointReader)",
            seedPaths: ["Tests/Fixtures/engine/tensors/mixed.bin", "Tests/Fixtures/engine/tensors/parameter.bin", "Tests/Fixtures/engine/bad"],
            dictionary: ["PK\u{03}\u{04}", "PK\u{01}\u{02}", "PK\u{05}\u{06}", "PK\u{06}\u{06}", "data.pkl", "byteorder"],
            maximumSize: 1 << 20
        ) { bytes, scratch in
            let url = scratch.appendingPathComponent("pytorch_model.bin")
            return readTensors(bytes, url) { try TorchCheckpointReader.read(url: $0) }
        },
        FuzzTarget(
            name: "pickle", summary: "the restricted unpickler alone (data.pkl wrapped in a valid zip)",
            seedPaths: ["Tests/Fuzz/seeds/pickle"],
            dictionary: ["\u{80}\u{02}", "(", ")", "]", "}", "t", "l", "d", "a", "e", "s", "u", "R", "Q", "b", "\u{94}",
                         "ctorch._utils\n_rebuild_tensor_v2\n", "ctorch\nFloatStorage\n", "ccollections\nOrderedDict\n",
                         "cos\nsystem\n", "X\u{05}\u{00}\u{00}\u{00}", "\u{8A}\u{08}", "q\u{01}", "h\u{01}", "."],
            maximumSize: 1 << 18
        ) { bytes, scratch in
            let url = scratch.appendingPathComponent("pickle.bin")
            return readTensors(StoredZip.torchArchive(pickle: bytes), url) { try TorchCheckpointReader.read(url: $0) }
        },
        FuzzTarget(
            name: "config-json", summary: "config.json of a model folder (ModelLoader.readConfig, then load without weights)",
            seedPaths: ["Tests/Fuzz/seeds/config-json", "Models/demo-calm/config.json", "Models/demo-rinna-sft/config.json"],
            dictionary: jsonTokens + ["\"model_type\"", "\"gpt_neox\"", "\"hidden_size\"", "\"num_attention_heads\"", "\"rotary_pct\"", "0", "4294967296"],
            maximumSize: 1 << 16
        ) { bytes, scratch in
            let folder = scratch.appendingPathComponent("model")
            try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            guard (try? Data(bytes).write(to: folder.appendingPathComponent("config.json"))) != nil else { return .rejected }
            // Parsed and validated config counts as accepted; the load that follows must still fail
            // cleanly at the missing weights whatever sizes the config claims.
            guard (try? ModelLoader.readConfig(directory: folder)) != nil else { return .rejected }
            _ = try? ModelLoader.load(directory: folder)
            return .accepted
        },
        FuzzTarget(
            name: "tokenizer-json", summary: "tokenizer.json (HFTokenizer), then encode and decode",
            seedPaths: ["Tests/Fuzz/seeds/tokenizer-json", "Tests/Fixtures/tokenizers/opencalm-style-bpe/tokenizer.json",
                        "Models/demo-calm/tokenizer.json"],
            dictionary: jsonTokens + ["\"added_tokens\"", "\"normalizer\"", "\"pre_tokenizer\"", "\"Sequence\"", "\"Split\"",
                                      "\"ByteLevel\"", "\"Metaspace\"", "\"BPE\"", "\"Unigram\"", "\"WordPiece\"", "\"Regex\"",
                                      "\"(a+)+$\"", "\"\\\\p{L}+\"", "\"merges\"", "\"vocab\""],
            maximumSize: 1 << 20
        ) { bytes, _ in
            guard let tokenizer = try? HFTokenizer(jsonBytes: bytes, path: "fuzz.json") else { return .rejected }
            let ids = tokenizer.encode(sampleText, addSpecialTokens: true)
            _ = tokenizer.decode(ids, skipSpecialTokens: false)
            return .accepted
        },
        FuzzTarget(
            name: "sentencepiece", summary: "SentencePiece .model protobuf, then encode and decode",
            seedPaths: ["Tests/Fixtures/tokenizers/custom-charsmap-unigram/custom.model"],
            dictionary: ["\u{0A}", "\u{12}", "\u{1A}", "\u{22}", "\u{08}", "\u{10}", "\u{15}", "\u{FF}\u{FF}\u{FF}\u{FF}\u{0F}"],
            maximumSize: 1 << 20
        ) { bytes, _ in
            guard let tokenizer = try? SentencePieceTokenizer(modelBytes: bytes, path: "fuzz.model") else { return .rejected }
            _ = tokenizer.decode(tokenizer.encode(sampleText, addSpecialTokens: true), skipSpecialTokens: false)
            return .accepted
        },
        FuzzTarget(
            name: "suite-yaml", summary: "compare suite YAML (SuiteLoader)",
            seedPaths: ["Tests/Fuzz/seeds/suite-yaml", "Examples/demo.yaml", "Examples/seed-article.yaml"],
            dictionary: ["&a ", "*a", "? ", ": ", "- ", "[", "]", "{", "}", "<<: ", "!!binary ", "|\n", ">\n", "\n  ", "\t", "%YAML 1.1\n", "---\n"],
            maximumSize: 1 << 16
        ) { bytes, _ in
            do { _ = try SuiteLoader.parse(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml") } catch { return .rejected }
            return .accepted
        },
        FuzzTarget(
            name: "eval-task", summary: "kataribe eval multiple-choice task files, JSON lines (MultipleChoiceTask)",
            seedPaths: ["Examples/eval/jcommonsense-mini.jsonl"],
            dictionary: jsonTokens + ["\"id\"", "\"context\"", "\"choices\"", "\"label\"", "\"delimiter\"", "\n", "\r\n", "\u{3000}"],
            maximumSize: 1 << 16
        ) { bytes, _ in
            do { _ = try MultipleChoiceTask.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.jsonl", name: "fuzz") } catch {
                return .rejected
            }
            return .accepted
        },
        FuzzTarget(
            name: "http-body", summary: "request bodies of /v1/completions, /v1/chat/completions, /tokenize and /detokenize",
            seedPaths: ["Tests/Fuzz/seeds/http-body"],
            dictionary: jsonTokens + ["\"prompt\"", "\"messages\"", "\"role\"", "\"content\"", "\"max_tokens\"", "\"stop\"",
                                      "\"logit_bias\"", "\"temperature\"", "\"n\"", "\"stream\"", "\"type\"", "\"text\"",
                                      "\"echo\"", "\"logprobs\"", "\"tokens\"", "\"add_special_tokens\"", "[[1,2],[3]]"],
            maximumSize: 1 << 16
        ) { bytes, _ in
            let data = Data(bytes)
            let problems = RequestBodyDecoding.Endpoint.allCases.map { RequestBodyDecoding.problem(with: data, for: $0) }
            return problems.contains { $0 == nil } ? .accepted : .rejected
        },
        FuzzTarget(
            name: "chat-template", summary: "Jinja chat templates (KataribeTemplates): parse, then render a Japanese conversation",
            seedPaths: ["Tests/Fuzz/seeds/chat-template", "Tests/Fixtures/chat-templates/templates"],
            dictionary: ["{%", "%}", "{{", "}}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", "{%+", "+%}", "\\n", "\\u3042", "'", "\"",
                         "if ", "elif ", "else", "endif", "for ", " in ", "endfor", "set ", "endset", "macro ", "endmacro",
                         "namespace(", "ns.", "loop.index0", "loop.last", "messages", "message['content']", "[1:]", "[::-1]",
                         "|tojson", "|tojson(indent=4)", "|trim", "|length", "|selectattr('role', 'equalto', 'user')", "|list",
                         " is defined", " is not none", " not ", " and ", " or ", " ~ ", " + ", "**", "//", "(", ")", "[", "]",
                         "{'a': ", "raise_exception('x')", "strftime_now('%d %b %Y')", "range(99999)", ".split('x')",
                         "{% break %}", "{% raw %}", "{% endraw %}", "9223372036854775807"],
            maximumSize: 1 << 16
        ) { bytes, _ in
            // Lower limits than the defaults keep every input fast; what they bound is the same.
            let limits = TemplateLimits(maximumOutputLength: 1 << 16, maximumSteps: 100_000)
            guard let template = try? ChatTemplate(source: String(decoding: bytes, as: UTF8.self),
                                                   specialTokens: ["bos_token": "<s>", "eos_token": "</s>"], limits: limits)
            else { return .rejected }
            let messages: [ChatTemplate.Message] = [
                .init(role: "system", content: "丁寧に答えてください。"), .init(role: "user", content: "日本の首都は？"),
                .init(role: "assistant", content: "東京です。"), .init(role: "user", content: "  人口は？\n"),
            ]
            let rendered = (try? template.render(messages, addGenerationPrompt: true)) != nil
            _ = try? template.render(Array(messages.suffix(1)), addGenerationPrompt: false)
            return rendered ? .accepted : .rejected
        },
    ]

    static let sampleText = "吾輩は猫である。名前はまだ無い。 Hello,  world!\n\tfunc f() { return 1 } 🍣🍺 <|endoftext|></s>"

    /// Writes the input as a file, reads it, and touches every byte each tensor claims (so a view
    /// past the mapping faults here, not somewhere later).
    static func readTensors(_ bytes: [UInt8], _ url: URL, _ read: (URL) throws -> TensorCollection) -> Outcome {
        guard (try? Data(bytes).write(to: url)) != nil else { return .rejected }
        guard let tensors = try? read(url) else { return .rejected }
        for name in tensors.names {
            guard let tensor = tensors[name] else { continue }
            _ = tensor.bytes.reduce(0) { $0 &+ Int($1) }
        }
        return .accepted
    }
}

/// A minimal STORED zip, enough to carry a fuzzed pickle into the torch reader.
enum StoredZip {
    static func torchArchive(pickle: [UInt8]) -> [UInt8] {
        build([("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8)),
               ("archive/data/0", [UInt8](repeating: 0, count: 64))])
    }

    static func build(_ entries: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        func u16(_ v: Int, _ into: inout [UInt8]) { into += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int, _ into: inout [UInt8]) { for i in 0..<4 { into.append(UInt8(v >> (8 * i) & 0xFF)) } }
        for (name, data) in entries {
            let offset = out.count, nameBytes = Array(name.utf8)
            u32(0x0403_4B50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0, &out); u32(0, &out)
            u32(data.count, &out); u32(data.count, &out); u16(nameBytes.count, &out); u16(0, &out)
            out += nameBytes + data
            u32(0x0201_4B50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(0, &central); u32(data.count, &central); u32(data.count, &central)
            u16(nameBytes.count, &central); u16(0, &central); u16(0, &central); u16(0, &central); u16(0, &central)
            u32(0, &central); u32(offset, &central)
            central += nameBytes
        }
        let centralOffset = out.count
        out += central
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(entries.count, &out); u16(entries.count, &out)
        u32(central.count, &out); u32(centralOffset, &out); u16(0, &out)
        return out
    }
}
