import Testing
@testable import KataribeTokenizers

/// The Oniguruma-compatible engine, checked against what `tokenizers` (which compiles patterns with
/// Oniguruma) produces for `Split(pattern, "isolated")` and `Replace(pattern, "|")`.
@Suite("Oniguruma-compatible regular expressions")
struct RegexTests {
    private func split(_ pattern: String, _ text: String) throws -> [String] {
        let regex = try OnigRegex(pattern)
        let bytes = Array(text.utf8)
        let pieces = SplitBehavior.pieces(matches: regex.findMatches(in: bytes), count: bytes.count, invert: false)
        return SplitBehavior.isolated.apply(pieces).filter { !$0.isEmpty }.map { UTF8Bytes.string(bytes[$0]) }
    }

    private func replace(_ pattern: String, _ text: String) throws -> String {
        var normalized = NormalizedText(bytes: Array(text.utf8), atOriginalStart: true)
        ReplaceNormalizer(pattern: .regex(try OnigRegex(pattern)), content: Array("|".utf8)).normalize(&normalized)
        return UTF8Bytes.string(normalized.bytes)
    }

    @Test("splits match tokenizers' Split pre-tokenizer", arguments: [
        (#"\s+(?!\S)|\s+"#, "a   b \n c  ", ["a", "  ", " ", "b", " \n", " ", "c", "  "]),
        (#"(?i:'s|'t)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"#, "IT'S 12345 Ab'T", ["IT", "'S", " ", "123", "45", " Ab", "'T"]),
        ("a+?b|c*", "aaab cc", ["aaab", " ", "cc"]),
        ("(?>a+)b|a", "aaa", ["a", "a", "a"]),
        (#"[^a-c\d]+"#, "xyz12abc!?", ["xyz", "12abc", "!?"]),
        (#"\bfoo\b"#, "foo food foo", ["foo", " food ", "foo"]),
        (#"^\w+$"#, "ab\ncd", ["ab", "\n", "cd"]),
        (".", "a\nb", ["a", "\n", "b"]),
        ("[[:alpha:]]+", "ab12cd", ["ab", "12", "cd"]),
        (#"\p{Han}+|\p{Hiragana}+"#, "漢字かなカナ", ["漢字", "かな", "カナ"]),
        (#"\d{2,}"#, "1 22 333", ["1 ", "22", " ", "333"]),
        (#"(?<=\d)(?=(\d{3})+$)"#, "1234567", ["1", "234", "567"]),
    ])
    func splits(pattern: String, text: String, expected: [String]) throws {
        #expect(try split(pattern, text) == expected)
    }

    @Test("empty matches and anchors match tokenizers' Replace normalizer", arguments: [
        (#"(?<!\n)^"#, "ab\ncd", "|ab\ncd"),
        (#"(?<!\n)^"#, "\nab", "|\nab"),
        ("^", "ab\ncd\n", "|ab\n|cd\n"),
        ("$", "ab\ncd\n", "ab|\ncd|\n|"),
        ("x*", "axxb", "|a|b|"),
        (#"\b"#, "ab cd", "|ab| |cd|"),
        ("", "abc", "|a|b|c|"),
        (#"\Z"#, "ab\n", "ab|\n|"),
        (#"(?<!\n)^ "#, " a\n b", "|a\n b"),
    ])
    func replacements(pattern: String, text: String, expected: String) throws {
        #expect(try replace(pattern, text) == expected)
    }

    @Test("alternatives of single characters repeat without recursion")
    func longRepetition() throws {
        let regex = try OnigRegex("(?:a|b)+c")
        let text = Array((String(repeating: "ab", count: 20_000) + "c").utf8)
        #expect(regex.findMatches(in: text) == [0..<40_001])
    }

    @Test("pathological patterns fail to match instead of overflowing the stack")
    func deepRecursion() throws {
        let regex = try OnigRegex(#"\A(?:ab|cd)*e"#)
        let text = Array((String(repeating: "ab", count: 6_000) + "e").utf8)
        _ = regex.findMatches(in: text)
    }
}

@Suite("GPT-2 split pattern scanner")
struct GPT2SplitterTests {
    private func split(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        var pieces: [String] = []
        bytes.withUnsafeBufferPointer { buffer in
            GPT2Splitter.split(buffer, from: 0, to: buffer.count) { pieces.append(UTF8Bytes.string(bytes[$0..<$1])) }
        }
        return pieces
    }

    @Test("splits like tokenizers' ByteLevel pre-tokenizer (shown before the byte-level mapping)", arguments: [
        ("Hello world's  test\n\n  x", ["Hello", " world", "'s", " ", " test", "\n\n ", " x"]),
        ("I'm don'T 123abc  ", ["I", "'m", " don", "'", "T", " 123", "abc", "  "]),
        (" 日本語、テスト！ ok?!", [" 日本語", "、", "テスト", "！", " ok", "?!"]),
        ("\t\tA  \u{3000}b", ["\t", "\t", "A", "  ", "\u{3000}", "b"]),
    ])
    func splits(text: String, expected: [String]) {
        #expect(split(text) == expected)
    }
}
