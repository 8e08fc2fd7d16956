import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeTokenizers

/// Bad files and bad input become typed errors that name the file and the reason.
@Suite("Tokenizer errors")
struct ErrorTests {
    private func json(_ text: String) throws -> HFTokenizer {
        try HFTokenizer(jsonBytes: Array(text.utf8), path: "test.json")
    }

    private static let minimalModel = #"{"type": "WordLevel", "vocab": {"a": 0, "[UNK]": 1}, "unk_token": "[UNK]"}"#

    private func withModel(_ extra: String) -> String {
        #"{"version": "1.0", "model": \#(Self.minimalModel)\#(extra)}"#
    }

    @Test("malformed JSON is invalidJSON with the byte offset")
    func malformedJSON() {
        #expect(throws: TokenizerError.invalidJSON(path: "test.json", offset: 8, reason: "expected ',' or '}'")) {
            try json(#"{"a": 1 "b": 2}"#)
        }
        #expect(throws: TokenizerError.self) { try json("{\"a\": \"\\ud800\"}") }  // lone surrogate
        #expect(throws: TokenizerError.self) { try json("{\"a\": \"\u{01}\"}") }  // raw control character
        #expect(throws: TokenizerError.self) { try HFTokenizer(jsonBytes: [0x7B, 0x22, 0xFF, 0x22, 0x7D], path: "x") }  // invalid UTF-8
        #expect(throws: TokenizerError.self) { try json(String(repeating: "[", count: 600)) }  // too deep
    }

    @Test("inconsistent tokenizer.json content is invalidModel")
    func invalidTokenizerJSON() {
        #expect(throws: TokenizerError.self) { try json(#"{"version": "2.0", "model": \#(Self.minimalModel)}"#) }
        #expect(throws: TokenizerError.self) { try json(#"{"version": "1.0"}"#) }
        #expect(throws: TokenizerError.self) {
            try json(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}"#)  // merge token not in vocab
        }
        #expect(throws: TokenizerError.self) {
            try json(#"{"model": {"type": "Unigram", "vocab": [["a", -1.0]], "unk_id": 5}}"#)
        }
        #expect(throws: TokenizerError.self) {
            try json(#"{"model": {"type": "BPE", "vocab": {"a": 99999999}, "merges": []}}"#)  // absurdly sparse ids
        }
        #expect(throws: TokenizerError.self) {
            try json(withModel(#", "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "</s>", "type_id": 0}}], "pair": [], "special_tokens": {}}"#))
        }
        #expect(throws: TokenizerError.self) {
            try json(withModel(#", "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": false}"#))
        }
    }

    @Test("unknown component types are unsupportedComponent, never ignored")
    func unsupportedComponents() {
        #expect(throws: TokenizerError.unsupportedComponent(path: "test.json", component: "normalizer", type: "BertNormalizer")) {
            try json(withModel(#", "normalizer": {"type": "BertNormalizer"}"#))
        }
        #expect(throws: TokenizerError.unsupportedComponent(path: "test.json", component: "model", type: "WordPiece")) {
            try json(#"{"model": {"type": "WordPiece", "vocab": {}}}"#)
        }
        #expect(throws: TokenizerError.unsupportedComponent(path: "test.json", component: "pre-tokenizer", type: "UnicodeScripts")) {
            try json(withModel(#", "pre_tokenizer": {"type": "UnicodeScripts"}"#))
        }
        #expect(throws: TokenizerError.unsupportedComponent(path: "test.json", component: "decoder", type: "CTC")) {
            try json(withModel(#", "decoder": {"type": "CTC"}"#))
        }
    }

    @Test("regular expressions outside the supported subset are invalidRegex")
    func invalidRegexes() {
        for pattern in [#"(a)\1"#, #"(?<=a+)b"#, "[abc", "a{2,1}", #"\p{Nonsense}"#, "*a", "(?x)a", "(a"] {
            #expect(throws: TokenizerError.self, "\(pattern)") { try OnigRegex(pattern) }
        }
        let pattern = #"{\"Regex\": \"(a)\\1\"}"#
        #expect(throws: TokenizerError.self) {
            try json(withModel(#", "pre_tokenizer": {"type": "Split", "pattern": \#(pattern.replacingOccurrences(of: "\\\"", with: "\"")), "behavior": "Isolated", "invert": false}"#))
        }
    }

    @Test("malformed protobuf is invalidProtobuf")
    func malformedProtobuf() {
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(modelBytes: [0x0A, 0xFF], path: "x.model") }  // truncated varint
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(modelBytes: [0x0A, 0x7F, 0x00], path: "x.model") }  // length past end
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(modelBytes: [0x0B], path: "x.model") }  // group wire type
        #expect(throws: TokenizerError.invalidProtobuf(path: "x.model", offset: 0, reason: "invalid field number")) {
            try SentencePieceTokenizer(modelBytes: [0x00], path: "x.model")
        }
    }

    /// A ModelProto with the given pieces: (piece, type) and optional trainer spec bytes.
    private func model(_ pieces: [(String, Int)], trainerSpec: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        for (piece, type) in pieces {
            var message: [UInt8] = [0x0A, UInt8(piece.utf8.count)] + Array(piece.utf8)
            message += [0x15, 0, 0, 0, 0, 0x18, UInt8(type)]
            bytes += [0x0A, UInt8(message.count)] + message
        }
        if !trainerSpec.isEmpty { bytes += [0x12, UInt8(trainerSpec.count)] + trainerSpec }
        return bytes
    }

    @Test("inconsistent SentencePiece models are invalidModel or unsupportedComponent")
    func invalidSentencePieceModels() throws {
        #expect(throws: TokenizerError.invalidModel(path: "x.model", reason: "the model has no pieces")) {
            try SentencePieceTokenizer(modelBytes: [], path: "x.model")
        }
        #expect(throws: TokenizerError.invalidModel(path: "x.model", reason: "the model defines no unknown piece")) {
            try SentencePieceTokenizer(modelBytes: model([("a", 1)]), path: "x.model")
        }
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(modelBytes: model([("<unk>", 2), ("a", 1), ("a", 1)]), path: "x.model") }
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(modelBytes: model([("<unk>", 2), ("<0x41>", 6)]), path: "x.model") }
        // byte_fallback (field 35) without the 256 byte pieces
        #expect(throws: TokenizerError.self) {
            try SentencePieceTokenizer(modelBytes: model([("<unk>", 2), ("<0x41>", 6)], trainerSpec: [0x98, 0x02, 0x01]), path: "x.model")
        }
        // model_type WORD (field 3 = 3)
        #expect(throws: TokenizerError.unsupportedComponent(path: "x.model", component: "SentencePiece model", type: "WORD")) {
            try SentencePieceTokenizer(modelBytes: model([("<unk>", 2), ("a", 1)], trainerSpec: [0x18, 0x03]), path: "x.model")
        }
        let tiny = try SentencePieceTokenizer(modelBytes: model([("<unk>", 2), ("a", 1), ("▁", 1)]), path: "x.model")
        #expect(tiny.encode("a b", addSpecialTokens: false) == [2, 1, 2, 0])
    }

    @Test("missing files and folders without tokenizer files are reported")
    func missingFiles() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/tokenizer.json")
        #expect(throws: TokenizerError.unreadableFile(path: missing.path, reason: "no such file or directory")) {
            try AutoTokenizer.load(from: missing)
        }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: TokenizerError.self) { try AutoTokenizer.load(from: empty) }
        let spmOnly = TestPaths.fixture("tokenizers/spm-bpe")
        #expect(throws: TokenizerError.noTokenizerFiles(directory: spmOnly.path, reason: "no tokenizer.json (needed for the fast tokenizer)")) {
            try AutoTokenizer.load(from: spmOnly, preference: .fast)
        }
        let fastOnly = TestPaths.fixture("tokenizers/opencalm-style-bpe")
        #expect(throws: TokenizerError.self) { try AutoTokenizer.load(from: fastOnly, preference: .slow) }
    }

    @Test("invalid JSON-lines input (invalid UTF-8, lone surrogates, no text) is invalidInput")
    func invalidInput() {
        #expect(throws: TokenizerError.self) { try TokenizeJSONLines.text(fromLine: [0x7B, 0xC3, 0x28, 0x7D], lineNumber: 1) }
        #expect(throws: TokenizerError.self) { try TokenizeJSONLines.text(fromLine: Array(#"{"text": "\udc00"}"#.utf8), lineNumber: 2) }
        #expect(throws: TokenizerError.self) { try TokenizeJSONLines.text(fromLine: Array(#"{"txt": "a"}"#.utf8), lineNumber: 3) }
        #expect((try? TokenizeJSONLines.text(fromLine: Array(#"{"text": "\ud83d\ude00\u3042"}"#.utf8), lineNumber: 4)) == "😀あ")
    }

    @Test("error descriptions name the file and the reason")
    func descriptions() {
        #expect(TokenizerError.invalidJSON(path: "a/tokenizer.json", offset: 3, reason: "trailing characters").description
            == "a/tokenizer.json: invalid JSON at byte 3: trailing characters")
        #expect(TokenizerError.unsupportedComponent(path: "t.json", component: "model", type: "WordPiece").description
            == "t.json: unsupported model type \"WordPiece\"")
    }
}
