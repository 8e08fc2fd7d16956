import Foundation
import Testing
import KataribeApp
import KataribeCheckpoint
import KataribeTestSupport
@testable import KataribeTokenizers

/// Tests/Fixtures/gguf/tokenizer-reference.json, written by
/// tools/fixtures/make_gguf_tokenizer_reference.py with transformers' GGUF conversion.
private struct GGUFTokenizerReference {
    struct Case {
        let text: String
        let ids: [Int]
        let idsWithoutSpecial: [Int]
        let decoded: String
        let decodedSkippingSpecial: String
    }

    struct Summary {
        let mergeCount: Int
        let mergesFNV1a: String
        let vocabularySize: Int
        let addedTokenCount: Int
        let specialAddedTokenCount: Int
        let firstAddedTokens: [(id: Int, content: String, special: Bool)]
        let bosID: Int?
        let eosID: Int?
        let unkID: Int?
        let padID: Int?
    }

    struct Entry {
        let name: String
        let metadata: GGUFTokenizerMetadata?
        let summary: Summary
        let cases: [Case]
    }

    let real: [String: Entry]
    let synthetic: [Entry]

    static let shared: GGUFTokenizerReference = {
        do { return try load() } catch { fatalError("cannot read the GGUF tokenizer reference: \(error)") }
    }()

    static func load() throws -> GGUFTokenizerReference {
        let bytes = [UInt8](try Data(contentsOf: TestPaths.fixture("gguf/tokenizer-reference.json")))
        guard case let .object(root) = try JSONParser.parse(bytes) else { throw Failure("not an object") }
        var real: [String: Entry] = [:]
        if case let .object(files)? = root["real"] {
            for member in files.members { real[member.key] = try entry(member.key, member.value) }
        }
        var synthetic: [Entry] = []
        if case let .array(items)? = root["synthetic"] {
            for item in items {
                guard case let .object(object) = item, case let .string(name)? = object["name"] else { throw Failure("synthetic entry") }
                synthetic.append(try entry(name, item))
            }
        }
        return GGUFTokenizerReference(real: real, synthetic: synthetic)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    private static func entry(_ name: String, _ value: JSONValue) throws -> Entry {
        guard case let .object(object) = value, case let .object(summary)? = object["summary"],
              case let .array(caseValues)? = object["cases"] else { throw Failure("\(name): malformed entry") }
        var cases: [Case] = []
        for item in caseValues {
            guard case let .object(row) = item else { throw Failure("\(name): malformed case") }
            cases.append(Case(text: string(row["text"]) ?? "", ids: ints(row["ids"]) ?? [],
                              idsWithoutSpecial: ints(row["idsWithoutSpecial"]) ?? [], decoded: string(row["decoded"]) ?? "",
                              decodedSkippingSpecial: string(row["decodedSkippingSpecial"]) ?? ""))
        }
        var firstAdded: [(id: Int, content: String, special: Bool)] = []
        if case let .array(items)? = summary["firstAddedTokens"] {
            for item in items {
                guard case let .array(triple) = item, triple.count == 3, let id = int(triple[0]), let content = string(triple[1]),
                      case let .bool(special) = triple[2] else { throw Failure("\(name): malformed firstAddedTokens") }
                firstAdded.append((id, content, special))
            }
        }
        let metadata: GGUFTokenizerMetadata?
        if case let .object(fields)? = object["metadata"] {
            metadata = GGUFTokenizerMetadata(
                architecture: string(fields["architecture"]) ?? "", model: string(fields["model"]) ?? "",
                pre: string(fields["pre"]), tokens: strings(fields["tokens"]) ?? [],
                scores: doubles(fields["scores"])?.map { Float($0) }, tokenTypes: ints(fields["tokenTypes"])?.map { Int32($0) },
                merges: strings(fields["merges"]), bosID: int(fields["bosID"]), eosID: int(fields["eosID"]),
                unknownID: int(fields["unknownID"]), paddingID: int(fields["paddingID"]), addBOS: bool(fields["addBOS"]),
                addEOS: bool(fields["addEOS"]), addSpacePrefix: bool(fields["addSpacePrefix"]),
                chatTemplate: string(fields["chatTemplate"]))
        } else {
            metadata = nil
        }
        return Entry(name: name, metadata: metadata, summary: Summary(
            mergeCount: int(summary["mergeCount"]) ?? -1, mergesFNV1a: string(summary["mergesFNV1a"]) ?? "",
            vocabularySize: int(summary["vocabularySize"]) ?? -1, addedTokenCount: int(summary["addedTokenCount"]) ?? -1,
            specialAddedTokenCount: int(summary["specialAddedTokenCount"]) ?? -1, firstAddedTokens: firstAdded,
            bosID: int(summary["bosID"]), eosID: int(summary["eosID"]), unkID: int(summary["unkID"]), padID: int(summary["padID"])),
            cases: cases)
    }

    private static func string(_ value: JSONValue?) -> String? {
        if case let .string(text)? = value { return text }
        return nil
    }

    private static func int(_ value: JSONValue?) -> Int? {
        if case let .number(number)? = value { return Int(number) }
        return nil
    }

    private static func bool(_ value: JSONValue?) -> Bool? {
        if case let .bool(flag)? = value { return flag }
        return nil
    }

    private static func ints(_ value: JSONValue?) -> [Int]? {
        guard case let .array(items)? = value else { return nil }
        return items.compactMap { int($0) }
    }

    private static func doubles(_ value: JSONValue?) -> [Double]? {
        guard case let .array(items)? = value else { return nil }
        return items.compactMap { if case let .number(number) = $0 { return number } else { return nil } }
    }

    private static func strings(_ value: JSONValue?) -> [String]? {
        guard case let .array(items)? = value else { return nil }
        return items.compactMap { string($0) }
    }
}

/// The merges the conversion gives `metadata`, as `tokenizers` serialises them: "left right" lines
/// in rank order, a repeated pair at its last rank. Their count and FNV-1a digest.
private func mergeDigest(_ metadata: GGUFTokenizerMetadata) throws -> (count: Int, digest: String) {
    let builder = try GGUFTokenizerBuilder.builderClass(for: metadata, source: "digest")
    let (tokens, vocabulary) = GGUFTokenizerBuilder.vocabulary(metadata, builder: builder)
    let merges = try GGUFTokenizerBuilder.mergeIDs(metadata, builder: builder, tokens: tokens, vocabulary: vocabulary, source: "digest")
    var lastRank: [UInt64: Int] = [:]
    for (rank, merge) in merges.enumerated() { lastRank[UInt64(UInt32(bitPattern: merge.left)) << 32 | UInt64(UInt32(bitPattern: merge.right))] = rank }
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    func feed(_ bytes: [UInt8]) { for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 } }
    var count = 0
    for (rank, merge) in merges.enumerated()
    where lastRank[UInt64(UInt32(bitPattern: merge.left)) << 32 | UInt64(UInt32(bitPattern: merge.right))] == rank {
        if count > 0 { feed([0x0A]) }
        feed(tokens[Int(merge.left)] + [0x20] + tokens[Int(merge.right)])
        count += 1
    }
    let hex = String(hash, radix: 16)
    return (count, String(repeating: "0", count: 16 - hex.count) + hex)
}

/// Compares a built tokenizer with transformers' summary and per-text results.
private func compare(_ tokenizer: HFTokenizer, metadata: GGUFTokenizerMetadata, with entry: GGUFTokenizerReference.Entry) throws {
    var log = MismatchLog()
    let summary = entry.summary
    let merges = try mergeDigest(metadata)
    #expect(merges.count == summary.mergeCount, "\(entry.name): merges")
    #expect(merges.digest == summary.mergesFNV1a, "\(entry.name): merge order")
    let added = tokenizer.addedVocabulary.tokens
    #expect(tokenizer.vocabularySize == summary.vocabularySize, "\(entry.name): vocabulary size")
    #expect(added.count == summary.addedTokenCount, "\(entry.name): added tokens")
    #expect(added.filter(\.special).count == summary.specialAddedTokenCount, "\(entry.name): special added tokens")
    for expected in summary.firstAddedTokens {
        let token = tokenizer.addedVocabulary.token(forID: expected.id)
        if token.map({ UTF8Bytes.string($0.content) }) != expected.content || token?.special != expected.special {
            log.record("added token \(expected.id): \(token.map { UTF8Bytes.string($0.content).debugDescription } ?? "none") vs \(expected.content.debugDescription)")
        }
    }
    #expect(tokenizer.specialTokens.bos == summary.bosID, "\(entry.name): bos")
    #expect(tokenizer.specialTokens.eos == summary.eosID, "\(entry.name): eos")
    #expect(tokenizer.specialTokens.unk == summary.unkID, "\(entry.name): unk")
    #expect(tokenizer.specialTokens.pad == summary.padID, "\(entry.name): pad")
    for row in entry.cases {
        let text = ReferenceData.describe(row.text)
        let ids = tokenizer.encode(row.text, addSpecialTokens: true)
        if ids != row.ids { log.record("ids \(text): \(ids.prefix(16)) vs \(row.ids.prefix(16))") }
        let plain = tokenizer.encode(row.text, addSpecialTokens: false)
        if plain != row.idsWithoutSpecial { log.record("ids without special \(text): \(plain.prefix(16)) vs \(row.idsWithoutSpecial.prefix(16))") }
        let decoded = tokenizer.decode(row.ids, skipSpecialTokens: false)
        if !ReferenceData.same(decoded, row.decoded) {
            log.record("decoded \(text): \(ReferenceData.describe(decoded)) vs \(ReferenceData.describe(row.decoded))")
        }
        let skipping = tokenizer.decode(row.ids, skipSpecialTokens: true)
        if !ReferenceData.same(skipping, row.decodedSkippingSpecial) {
            log.record("decoded skipping special \(text): \(ReferenceData.describe(skipping)) vs \(ReferenceData.describe(row.decodedSkippingSpecial))")
        }
    }
    #expect(log.count == 0, "\(entry.name): \(log.summary)")
}

@Suite("GGUF tokenizers match transformers' conversion")
struct GGUFTokenizerTests {
    // MARK: Synthetic files (metadata in the fixture)

    @Test("tiny GGUF vocabularies give transformers' ids, added tokens and decodes",
          arguments: ["gpt2-smollm", "gpt2-llama-bpe", "gpt2-qwen2", "spm-llama", "spm-gemma3", "spm-phi3"])
    func synthetic(name: String) throws {
        let entry = try #require(GGUFTokenizerReference.shared.synthetic.first { $0.name == name })
        let metadata = try #require(entry.metadata)
        try compare(try GGUFTokenizerBuilder.makeHFTokenizer(from: metadata, source: name), metadata: metadata, with: entry)
    }

    // MARK: Real files

    @Test("SmolLM2 (byte-level BPE, pre smollm) matches transformers",
          .enabled(if: TestPaths.realGGUF(.smolLM2) != nil, "SmolLM2-135M-Instruct.Q4_1.gguf is not in the GGUF cache (tools/gguf/fetch_models.py)"))
    func smolLM2() throws {
        try compareRealFile(.smolLM2)
    }

    @Test("Gemma 3 (SentencePiece, merges rebuilt from 262,144 pieces) matches transformers",
          .enabled(if: TestPaths.realGGUF(.gemma3) != nil, "gemma-3-270m-q4_k_m.gguf is not in the GGUF cache (tools/gguf/fetch_models.py)"))
    func gemma3() throws {
        try compareRealFile(.gemma3)
    }

    private func compareRealFile(_ model: TestPaths.RealGGUF) throws {
        let url = try #require(TestPaths.realGGUF(model))
        let entry = try #require(GGUFTokenizerReference.shared.real[model.rawValue], "no reference for \(model.rawValue)")
        let file = try GGUFFile.read(url: url)
        let metadata = try GGUFTokenizerMetadata(file)
        let clock = ContinuousClock()
        var tokenizer: HFTokenizer?
        let elapsed = try clock.measure { tokenizer = try GGUFTokenizerBuilder.makeHFTokenizer(from: metadata, source: url.path) }
        print("GGUF tokenizer \(model.rawValue): built in \(elapsed) (\(metadata.tokens.count) tokens)")
        try compare(try #require(tokenizer), metadata: metadata, with: entry)
        // The public entry point gives the same tokenizer.
        let viaFile = try GGUFTokenizerBuilder.make(from: file)
        #expect(viaFile.encode("こんにちは、世界。", addSpecialTokens: true) == entry.cases.first { $0.text == "こんにちは、世界。" }?.ids)
        if model == .smolLM2 { #expect(metadata.chatTemplate?.contains("<|im_start|>") == true) }
    }

    // MARK: Conversion rules, without files

    /// A byte-level vocabulary: the 256 alphabet characters, then `extra`.
    private func byteLevelMetadata(_ extra: [(String, GGUFTokenizerMetadata.TokenType)], merges: [String],
                                   pre: String? = "gpt-2") -> GGUFTokenizerMetadata {
        let alphabet = (0..<256).map { UTF8Bytes.string(ByteLevelAlphabet.encodedByte[$0]) }
        return GGUFTokenizerMetadata(architecture: "llama", model: "gpt2", pre: pre, tokens: alphabet + extra.map(\.0),
                                     tokenTypes: [Int32](repeating: 1, count: 256) + extra.map(\.1.rawValue), merges: merges)
    }

    @Test("byte-level files: tokens outside the byte alphabet are respelled, merges are \"left right\" strings")
    func byteLevelRules() throws {
        let metadata = byteLevelMetadata([("Ġt", .normal), ("he", .normal), ("Ġthe", .normal), (" x", .normal),
                                          ("<|endoftext|>", .control), ("<|猫|>", .control), ("<think>", .userDefined)],
                                         merges: ["Ġ t", "h e", "Ġt he", "Ġ x"])
        let tokenizer = try GGUFTokenizerBuilder.makeHFTokenizer(from: metadata, source: "test.gguf")
        #expect(tokenizer.encode(" the", addSpecialTokens: true) == [258])
        // " x" is stored as "Ġx" (id 259), so the merge "Ġ x" finds it.
        #expect(tokenizer.tokenToID("Ġx") == 259)
        #expect(tokenizer.encode(" x", addSpecialTokens: false) == [259])
        // Control tokens in the alphabet are special; "<|猫|>" is not added (and is respelled).
        #expect(tokenizer.encode("<|endoftext|>", addSpecialTokens: false) == [260])
        #expect(tokenizer.addedVocabulary.token(forID: 260)?.special == true)
        #expect(tokenizer.addedVocabulary.id(forContent: Array("<|猫|>".utf8)) == nil)
        #expect(tokenizer.encode("<|猫|>", addSpecialTokens: false).count > 1)
        // User-defined tokens are matched whole and kept on decode.
        #expect(tokenizer.encode("<think>", addSpecialTokens: false) == [262])
        #expect(tokenizer.decode([262, 260], skipSpecialTokens: true) == "<think>")
        #expect(tokenizer.decode([258, 259], skipSpecialTokens: false) == " the x")
    }

    @Test("transformers' pre-tokenizer regexes all compile")
    func preTokenizerRegexes() throws {
        for (name, pattern) in GGUFTokenizerBuilder.preTokenizerSplits {
            #expect(throws: Never.self, "\(name)") { _ = try OnigRegex(pattern) }
        }
        // Llama 3's regex cuts digits in threes ("123" "456"); GPT-2's (any unlisted name) keeps the run
        // whole, so the better-ranked "3 4" merge wins.
        let merges = ["3 4", "1 2", "12 3"]
        let extra: [(String, GGUFTokenizerMetadata.TokenType)] = [("12", .normal), ("123", .normal), ("34", .normal)]
        let llama3 = try GGUFTokenizerBuilder.makeHFTokenizer(from: byteLevelMetadata(extra, merges: merges, pre: "llama-bpe"), source: "a")
        let gpt2 = try GGUFTokenizerBuilder.makeHFTokenizer(from: byteLevelMetadata(extra, merges: merges, pre: "smollm"), source: "b")
        #expect(llama3.encode("123456", addSpecialTokens: false) == [257, 52, 53, 54])
        #expect(gpt2.encode("123456", addSpecialTokens: false) == [256, 258, 53, 54])
    }

    /// A SentencePiece vocabulary: `<unk>`, `<s>`, `</s>`, the 256 byte pieces, then `pieces`.
    private func sentencePieceMetadata(architecture: String = "llama", _ pieces: [(String, Float)],
                                       types: [Int: GGUFTokenizerMetadata.TokenType] = [:]) -> GGUFTokenizerMetadata {
        let bytes = (0..<256).map { String(format: "<0x%02X>", $0) }
        var tokenTypes: [Int32] = [2, 3, 3] + [Int32](repeating: 6, count: 256) + [Int32](repeating: 1, count: pieces.count)
        for (index, type) in types { tokenTypes[index] = type.rawValue }
        return GGUFTokenizerMetadata(architecture: architecture, model: "llama", pre: "default",
                                     tokens: ["<unk>", "<s>", "</s>"] + bytes + pieces.map(\.0),
                                     scores: [0, 0, 0] + [Float](repeating: 0, count: 256) + pieces.map(\.1),
                                     tokenTypes: tokenTypes, bosID: 1, eosID: 2, unknownID: 0)
    }

    @Test("SentencePiece files: byte pieces, merges from scores, BOS by default, control and user-defined tokens")
    func sentencePieceRules() throws {
        // Ids: "▁" 259, "a" 260, "b" 261, "ab" 262, "▁ab" 263, "<x>" 264.
        let metadata = sentencePieceMetadata([("▁", -1), ("a", -5), ("b", -5), ("ab", -2), ("▁ab", -3), ("<x>", 0)],
                                             types: [264: .userDefined])
        let tokenizer = try GGUFTokenizerBuilder.makeHFTokenizer(from: metadata, source: "test.gguf")
        // "▁ab" outranks "▁a"+"b" paths: the merges come from the scores ("ab" -2 before "▁ab" -3).
        #expect(tokenizer.encode("ab", addSpecialTokens: true) == [1, 263])
        // "\n" has no piece: byte fallback to <0x0A> (id 3 + 0x0A).
        #expect(tokenizer.encode("ab\n", addSpecialTokens: false) == [263, 3 + 0x0A])
        #expect(tokenizer.idToToken(3 + 0x0A) == "<0x0A>")
        #expect(tokenizer.decode([1, 263, 3 + 0x0A], skipSpecialTokens: true) == "ab\n")
        // Control tokens are special (skipped on decode), user-defined ones plain added tokens.
        #expect(tokenizer.encode("<s>ab<x>", addSpecialTokens: false) == [1, 262, 264])
        #expect(tokenizer.decode([1, 262, 264, 2], skipSpecialTokens: true) == "ab<x>")
        #expect(tokenizer.addedVocabulary.token(forID: 264)?.special == false)
        #expect(tokenizer.specialTokens.bos == 1 && tokenizer.specialTokens.eos == 2 && tokenizer.specialTokens.unk == 0)

        var noBOS = metadata
        noBOS.addBOS = false
        noBOS.addEOS = true
        #expect(try GGUFTokenizerBuilder.makeHFTokenizer(from: noBOS, source: "test.gguf").encode("ab", addSpecialTokens: true) == [263, 2])
    }

    @Test("derived merges: score, then longer left half, then longer right half, then file order")
    func derivedMergeOrder() {
        let tokens = ["a", "b", "c", "ab", "bc", "abc", "ca"].map { Array($0.utf8) }
        var vocabulary = BytesMap(capacity: tokens.count)
        for (index, token) in tokens.enumerated() { vocabulary.set(token, Int32(index)) }
        let scores: [Float] = [0, 0, 0, -1, -1, -1, -1]
        let merges = GGUFDerivedMerges.derive(tokens: tokens, vocabulary: vocabulary) { scores[$0] }
            .map { UTF8Bytes.string(tokens[Int($0.left)]) + " " + UTF8Bytes.string(tokens[Int($0.right)]) }
        // All at -1: "abc" cut as "ab c" (left length 2) first, then the one-character lefts by right
        // length ("a bc" before the length-1 rights), those in file order.
        #expect(merges == ["ab c", "a bc", "a b", "b c", "c a"])
    }

    @Test("Gemma files: space runs are respelled, merges follow file order, <mask> is added when missing")
    func gemmaRules() throws {
        #expect(GGUFTokenizerBuilder.respelledSpaceRun(Array("  ".utf8)) == Array("▁▁".utf8))
        #expect(GGUFTokenizerBuilder.respelledSpaceRun(Array(" \n".utf8)) == Array("▁▁".utf8))
        #expect(GGUFTokenizerBuilder.respelledSpaceRun(Array("\n\n".utf8)) == Array("\n\n".utf8))
        #expect(GGUFTokenizerBuilder.respelledSpaceRun(Array("a ".utf8)) == Array("a ".utf8))

        // Ids: "▁" 259, "a" 260, "b" 261, "ba" 262, "ab" 263, "  " (as "▁▁") 264.
        var metadata = sentencePieceMetadata(architecture: "gemma3", [("▁", -1), ("a", -9), ("b", -9), ("ba", -9), ("ab", -1), ("  ", 0)])
        metadata.tokens[0] = "<pad>"
        metadata.tokens[1] = "<bos>"
        metadata.tokens[2] = "<eos>"
        metadata.unknownID = nil
        let tokenizer = try GGUFTokenizerBuilder.makeHFTokenizer(from: metadata, source: "gemma.gguf")
        // "ba" (earlier in the file) outranks "ab" despite its worse score: "bab" is "ba"+"b".
        #expect(tokenizer.encode("bab", addSpecialTokens: false) == [262, 261])
        #expect(tokenizer.encode("bab", addSpecialTokens: true) == [1, 262, 261])
        // "  " became "▁▁" and spaces are "▁" after the normalizer.
        #expect(tokenizer.encode("a  b", addSpecialTokens: false) == [260, 264, 261])
        // GemmaTokenizer adds its `<unk>` and `<mask>` defaults after the vocabulary.
        #expect(tokenizer.tokenToID("<unk>") == 265)
        #expect(tokenizer.tokenToID("<mask>") == 266)
    }

    @Test("the KataribeApp glue reads a written GGUF file's tokenizer metadata")
    func glueRoundTrip() throws {
        let metadata = sentencePieceMetadata([("▁", -1), ("a", -5), ("b", -5), ("ab", -2), ("▁ab", -3)])
        var writer = GGUFWriter()
        writer.add("general.architecture", .string("llama"))
        writer.add("tokenizer.ggml.model", .string("llama"))
        writer.add("tokenizer.ggml.pre", .string("default"))
        writer.add("tokenizer.ggml.tokens", .array(.string(metadata.tokens)))
        writer.add("tokenizer.ggml.scores", .array(.float32(metadata.scores ?? [])))
        writer.add("tokenizer.ggml.token_type", .array(.int32(metadata.tokenTypes ?? [])))
        writer.add("tokenizer.ggml.bos_token_id", .uint32(1))
        writer.add("tokenizer.ggml.eos_token_id", .uint32(2))
        writer.add("tokenizer.ggml.unknown_token_id", .uint32(0))
        writer.add("tokenizer.ggml.add_eos_token", .bool(true))
        writer.add("tokenizer.chat_template", .string("{{ messages }}"))
        writer.addTensor("token_embd.weight", floats: [0, 0, 0, 0], shape: [2, 2])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-gguf-tokenizer-\(UUID().uuidString).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try writer.write(to: url)

        let file = try GGUFFile.read(url: url)
        let read = try GGUFTokenizerMetadata(file)
        var expected = metadata
        expected.addEOS = true
        expected.chatTemplate = "{{ messages }}"
        #expect(read == expected)
        // BOS by default for a `llama` vocabulary, EOS from the flag.
        #expect(try GGUFTokenizerBuilder.make(from: file).encode("ab", addSpecialTokens: true) == [1, 263, 2])

        // A key of the wrong type is an error naming the file and the key.
        var wrong = GGUFWriter()
        wrong.add("general.architecture", .string("llama"))
        wrong.add("tokenizer.ggml.model", .string("llama"))
        wrong.add("tokenizer.ggml.tokens", .array(.int32([1, 2])))
        wrong.addTensor("token_embd.weight", floats: [0, 0, 0, 0], shape: [2, 2])
        try wrong.write(to: url)
        #expect {
            try GGUFTokenizerMetadata(GGUFFile.read(url: url))
        } throws: { error in
            "\(error)".contains(url.path) && "\(error)".contains("tokenizer.ggml.tokens")
        }
    }

    @Test("errors name the file and the value")
    func errors() {
        let base = sentencePieceMetadata([("▁", -1)])
        func failure(_ metadata: GGUFTokenizerMetadata) -> String {
            do {
                _ = try GGUFTokenizerBuilder.make(from: metadata, source: "/models/x.gguf")
                return "no error"
            } catch {
                return error.description
            }
        }
        var unsupported = base
        unsupported.model = "bert"
        #expect(failure(unsupported).contains("/models/x.gguf") && failure(unsupported).contains("bert"))
        var scores = base
        scores.scores?.removeLast()
        #expect(failure(scores).contains("tokenizer.ggml.scores has 259 entries for 260 tokens"))
        var types = base
        types.tokenTypes?.append(1)
        #expect(failure(types).contains("token_type has 261 entries"))
        var bos = base
        bos.bosID = 260
        #expect(failure(bos).contains("bos_token_id 260 is outside the 260 tokens"))
        var empty = base
        empty.tokens = []
        #expect(failure(empty).contains("empty"))
        var noScores = base
        noScores.scores = nil
        #expect(failure(noScores).contains("neither tokenizer.ggml.merges nor tokenizer.ggml.scores"))
        var badMerge = byteLevelMetadata([], merges: ["a b c"])
        badMerge.architecture = "llama"
        #expect(failure(badMerge).contains("merges[0]"))
        var unknownMergeToken = byteLevelMetadata([], merges: ["Ġ t"])
        unknownMergeToken.architecture = "llama"
        #expect(failure(unknownMergeToken).contains("not in the vocabulary"))
    }
}
