import Foundation
import Testing
import KataribeApp
import KataribeCheckpoint
import KataribeTestSupport
import KataribeTokenizers

/// The byte-level (`gpt2`) vocabularies llama.cpp's converter writes for GPT-NeoX models
/// (tools/fixtures/make_gguf_gptneox_fixtures.py): demo-calm's real 6400-token Japanese vocabulary
/// (a --vocab-only file) and the random fixture model's 512-token one. transformers has no gptneox
/// GGUF tokenizer, so the reference is Kataribe's tokenizer.json loader on the original folder
/// (itself equal to transformers): the same ids for Japanese, English, code, emoji, whitespace
/// runs, special-token text, and text not in NFC (GPT-NeoX tokenizers normalize NFC, which the
/// GGUF does not record; the builder restores it for `gptneox` files).
@Suite("GGUF gptneox: tokenizer ids equal the original tokenizer.json's")
struct GGUFGPTNeoXTokenizerTests {
    static let texts = [
        "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
        "昨日、東京タワーに行きました。とても楽しかったです！　全角スペースと半角ｶﾀｶﾅ、①②③。",
        "The quick brown fox jumps over the lazy dog, doesn't it? I'm sure we'll see.",
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
        "for (int i = 0; i < 10; i++) { total += values[i]; }  // 12345 3.14159",
        "猫 🐱 と 犬 🐶 👨\u{200D}👩\u{200D}👧 ✅",
        "  leading,   inner   runs\t\tand tabs\n\n\ntrailing   ",
        "<|endoftext|>こんにちは<|padding|>hello<|endoftext|>",
        // Not NFC: か + combining dakuten, e + combining acute, the Kelvin sign.
        "か\u{3099}きく\u{3099} cafe\u{301} \u{212A}",
        "",
    ]

    static let pairs: [(gguf: String, folder: URL)] = [
        ("demo-calm.vocab", TestPaths.packageRoot.appendingPathComponent("Models/demo-calm")),
        ("F16", TestPaths.fixture("gguf-models/gptneox/original")),
        ("Q4_K_M", TestPaths.fixture("gguf-models/gptneox/original")),
    ]

    @Test("ids and decoded text equal the tokenizer.json loader's", arguments: pairs.indices)
    func ids(index: Int) throws {
        let (name, folder) = Self.pairs[index]
        let file = try GGUFFile.read(url: TestPaths.fixture("gguf-models/gptneox/\(name).gguf"))
        let gguf = try GGUFTokenizerBuilder.make(from: file)
        let original = try AutoTokenizer.load(from: folder)
        #expect(gguf.vocabularySize == original.vocabularySize, "\(name)")
        for text in Self.texts {
            for special in [true, false] {
                let expected = original.encode(text, addSpecialTokens: special)
                #expect(gguf.encode(text, addSpecialTokens: special) == expected,
                        "\(name) (special: \(special)): \(text.debugDescription)")
            }
            let ids = original.encode(text, addSpecialTokens: false)
            for skip in [true, false] {
                #expect(gguf.decode(ids, skipSpecialTokens: skip) == original.decode(ids, skipSpecialTokens: skip),
                        "\(name) decode (skip: \(skip)): \(text.debugDescription)")
            }
        }
    }

    @Test("special tokens: <|endoftext|> is bos/eos, no BOS added")
    func specials() throws {
        let tokenizer = try GGUFTokenizerBuilder.make(
            from: GGUFFile.read(url: TestPaths.fixture("gguf-models/gptneox/demo-calm.vocab.gguf")))
        #expect(tokenizer.encode("吾輩", addSpecialTokens: true) == tokenizer.encode("吾輩", addSpecialTokens: false))
        #expect(tokenizer.encode("<|endoftext|>", addSpecialTokens: false) == [0])
    }
}
