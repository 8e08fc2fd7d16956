"""Test strings for the committed tokenizer fixtures: hand-written hard cases plus public-domain
Aozora Bunko lines (Natsume Soseki, 吾輩は猫である). Shared by make_fixtures.py and
make_t5_slow_reference.py so every reference covers the same inputs."""

import random

HARD_CASES = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\n\n\n",
    " \t \n ",
    "a  b",
    "a   b    c",
    "  先頭の空白",
    "末尾の空白  ",
    "  両側  ",
    "日本 語",
    "日本  語",
    "日本\n語",
    "日本\t語",
    "\u3000",
    "\u3000\u3000全角空白\u3000",
    "a\u00a0b",
    "a\u2002b\u2003c",
    "a\u200bb",
    "    indented code",
    " " * 40,
    "end with newline\n",
    "\n先頭の改行",
    "こんにちは、世界！",
    "吾輩は猫である。名前はまだ無い。",
    "東京都渋谷区渋谷2丁目21−1",
    "1,000,000円",
    "2024年1月1日(月) 10:30〜12:00",
    "ＡＢＣＤＥ ａｂｃｄｅ ０１２３４",
    "ｱｲｳｴｵ ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟﾌﾟ",
    "！＂＃＄％＆＇（）＊＋，－．／",
    "：；＜＝＞？＠［＼］＾＿｀｛｜｝～",
    "￥１，０００",
    "㍻㍼㈱①②③ⅠⅡⅢ㌔㎞",
    "℃℉Å½¼¾ x²y³ ﬁﬂ",
    "〝〟‥…―‐−–—〈〉《》「」『』【】",
    "がぎぐ",
    "ぱぴ",
    "é café café",
    "Å Å",
    "한글 한국어",
    "가\u0301",
    "à\u0301\u0302\u0303\u0304",
    "\u0301",
    "हिन्दी กิ่",
    "😀",
    "👍🏽",
    "👨\u200d👩\u200d👧\u200d👦",
    "🇯🇵🇺🇸",
    "❤️ ☺️",
    "1️⃣ #️⃣",
    "🏳️\u200d🌈",
    "今日は楽しかった😊🎉",
    "お疲れ様です🙇\u200d♂️",
    "emoji 🐱 cat 🐶 dog",
    "🫠🫡🫥",
    "©®™",
    "𠮷野家 𩸽",
    "\x00",
    "a\x00b",
    "\x07bell",
    "\x1b[31m赤\x1b[0m",
    "\x7f",
    "\x85",
    "a\u2028b\u2029c",
    "\ufeffBOM付き",
    "\u200d",
    "ソフト\u00adハイフン",
    "\u200e\u200f",
    "\ufffd",
    "\uffff",
    "\U0010ffff",
    "\ue000私用領域",
    "<NL>",
    "改行<NL>改行<NL>",
    "ユーザー: こんにちは<NL>システム: ",
    "<|endoftext|>",
    "前<|endoftext|>後",
    "<|endoftext|><|endoftext|>",
    "<|padding|>",
    "<s>こんにちは</s>",
    "<unk>",
    "<pad>",
    "[CLS]前[SEP]後[MASK]",
    "<0x41>",
    "<0xE3><0x81><0x82>",
    "▁",
    "▁▁▁",
    "▁あ",
    "Ġ Ċ",
    "<<>> <| |>",
    "don't it's I'm you've we're they'll he'd",
    "Isn't it ? Yes , it is . Wow !",
    "He said ' hello ' .",
    "Hello, World! 123 4567 89.5",
    "The quick brown fox jumps over the lazy dog.",
    "def f(x):\n    return x * 2  # 二倍にする",
    "https://example.com/path?q=1&r=2",
    "email: test@example.com",
    "ーーーーーー",
    "ｗｗｗｗｗ",
    "wwwww",
    "。。。……",
    "ああああああああああ",
    "a" * 60,
    "1111111111",
    "...........",
    "-----=====___~~~~",
    "안녕하세요, 세계! 你好，世界！ Привет, мир! Γειά σου Κόσμε",
    "مرحبا بالعالم שלום עולם",
    "Xin chào thế giới Ünïcödé ßtraße",
    "İstanbul ΣΊΣΥΦΟΣ",
    "日本語とEnglishが混ざった文章です。 " * 8,
    "🍣" * 50,
    "あ" * 300,
]


# Building blocks for random strings: Japanese, ASCII, emoji (with modifiers and ZWJ), combining
# marks, full/half width forms, whitespace of every kind and control characters.
PALETTE = [
    "あいうえおかきくけこがぎぐげごぱぴぷ",
    "アイウエオカキクケコガギグゲゴパピプー",
    "日本語漢字猫吾輩名前人間東京",
    "。、「」『』！？（）・…",
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    " .,;:'\"!?-_/()[]{}<>@#$%^&*+=|~`",
    "ＡＢＣａｂｃ０１２ｱｲｳｶﾞﾊﾟ！？",
    "😀👍🏽🇯🇵❤️🍣🐱",
    "\u200d\u200b\ufe0f\u0301\u3099\u309a",
    " \t\n\r\u3000\u00a0\u2002\u2028\x85",
    "\x00\x01\x07\x1b\x7f\ufeff\ufffd",
    "▁Ġ<>",
]
TOKENS = ["<NL>", "<|endoftext|>", "<s>", "</s>", "<unk>", "[CLS]", "<0x41>", "  ", "don't", "it's"]


def random_text(rng, max_pieces=12):
    """A random mix of runs from PALETTE and special-looking TOKENS."""
    parts = []
    for _ in range(rng.randint(0, max_pieces)):
        if rng.random() < 0.1:
            parts.append(rng.choice(TOKENS))
        else:
            alphabet = rng.choice(PALETTE)
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))))
    return "".join(parts)


def aozora_lines(corpus_path, count=60, seed=1234):
    """`count` lines of the Aozora part (the first 2216 lines) of ja_no_manpages.txt."""
    with open(corpus_path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")[:2216]
    rng = random.Random(seed)
    chosen = rng.sample([line for line in lines if line], count)
    # Some whole lines, some fragments with odd boundaries.
    out = []
    for index, line in enumerate(chosen):
        if index % 3 == 1:
            out.append(line[: len(line) // 2])
        elif index % 3 == 2:
            out.append(line[: 40] + "\n" + line[40:80])
        else:
            out.append(line)
    return out


def training_lines(corpus_path):
    with open(corpus_path, encoding="utf-8") as handle:
        return [line for line in handle.read().split("\n")[:2216] if line]


def all_strings(corpus_path):
    rng = random.Random(2024)
    return HARD_CASES + aozora_lines(corpus_path) + [random_text(rng) for _ in range(90)]


# Extra cases for the chat-model families (Llama 3, Qwen2.5, Gemma, llm-jp-3): their own chat markup
# with the special tokens in and around text, code with indentation runs, digit runs (Qwen splits
# every digit, Llama 3 groups three) and combining marks (the Qwen2 and Qwen3.5 pre-tokenizer
# patterns differ only there). Kept apart from HARD_CASES so the older fixtures stay as they are.
CHAT_CASES = [
    "<|im_start|>system\nあなたは親切なアシスタントです。<|im_end|>\n<|im_start|>user\nこんにちは<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\n物語を書いて<|im_end|><|endoftext|>",
    "前<|im_end|>後 <|im_start|> 間",
    "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
    "<|fim_prefix|>def f(<|fim_suffix|>):<|fim_middle|>",
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nあなたは誠実で優秀な日本人のアシスタントです。<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n昔々あるところに<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    "<|eot_id|><|eot_id|> <|end_of_text|>",
    "<bos><start_of_turn>user\nカレーの作り方を教えて<end_of_turn>\n<start_of_turn>model\n",
    "<start_of_turn>model\n返信です。<end_of_turn><eos>",
    "<pad><unk><mask>",
    "<s>以下は、タスクを説明する指示です。\n\n### 指示:\n映画に誘われました。\n\n### 応答:\n</s>",
    "<EOD|LLM-jp><PAD|LLM-jp>",
    "def main():\n\tfor i in range(10):\n\t\tprint(i)  # 表示\n\n\n    return None\n",
    "if (x >= 10 && y != 0) { z = x / y; } // ゼロ除算を避ける",
    "SELECT name, COUNT(*) FROM users WHERE age > 20 GROUP BY name;",
    "<div class=\"a\">\n  <p>段落</p>\n</div>",
    "12345678901234567890 3.14159 2025年12月31日 ０１２３",
    "        eight spaces then text",
    "tab\t\ttabs\t\t\tand\n\n\nnewlines\r\n\r\n",
    "e\u0301 a\u0300\u0301 가\u0301 ñ n\u0303 Ω\u0342 क्षि",
    "The model said: “Hello!” — and left… ‘quotes’",
    "絵文字👩‍💻と🇯🇵と🧑🏽‍🤝‍🧑🏻の混在、そして😂😂😂",
]


def chat_strings(corpus_path):
    return all_strings(corpus_path) + CHAT_CASES


# Training text for the families whose real vocabularies are largely English and code (Llama 3, Qwen,
# Gemma): the Aozora lines have almost no ASCII, so without these the "▁"/"Ġ" pieces and English
# merges those tokenizers rely on would be missing. Written for this project (no licence attached).
ENGLISH_AND_CODE = [
    "The quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun.",
    "Language models read text as tokens, and the way a sentence is split changes what they see.",
    "In the morning we walked to the station, bought two tickets and took the first train to the sea.",
    "She said that the results were not what anyone had expected, but the method was sound.",
    "There are many ways to write a story; most of them begin with a person who wants something.",
    "Please send the report by Friday. If you have any questions, let me know as soon as possible.",
    "It was the best of times for the small town, and everyone in it seemed to know each other.",
    "Tokenizers split words into pieces such as \"token\", \"izer\" and \"s\", and numbers into digits.",
    "We're sure they'll come, but I'm not sure you've heard what he'd said about it.",
    "Version 2.5 was released on 2024-09-19 with 0.5B, 1.5B, 3B, 7B, 14B, 32B and 72B models.",
    "def tokenize(text: str) -> list[int]:",
    "    return [vocab[piece] for piece in split(text) if piece in vocab]",
    "for (int i = 0; i < n; i++) { sum += values[i] * weights[i]; }",
    "import numpy as np",
    "x = np.zeros((3, 4), dtype=np.float32)",
    "if __name__ == \"__main__\":",
    "    main()",
    "class Model(nn.Module):",
    "    def forward(self, input_ids, attention_mask=None):",
    "        hidden = self.embed(input_ids)",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id;",
    "<html><body><h1>Title</h1><p>Hello, world!</p></body></html>",
    "{\"name\": \"kataribe\", \"version\": \"1.0.0\", \"dependencies\": {}}",
    "git commit -m \"Fix the tokenizer\" && git push origin main",
    "    ",
    "        ",
] * 20
