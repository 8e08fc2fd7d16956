@testable import KataribeCLI
import Testing

/// Applies `keys` to `editor`; the outcome of the last one.
@discardableResult
private func type(_ keys: [EditorKey], into editor: inout LineEditor) -> LineEditor.Outcome {
    var outcome = LineEditor.Outcome.editing
    for key in keys { outcome = editor.apply(key) }
    return outcome
}

private func decode(_ text: String) -> [EditorKey] {
    var decoder = KeyDecoder()
    return decoder.keys(from: Array(text.utf8))
}

@Suite("chat's line editor: keys, Japanese text, history")
struct LineEditorTests {
    @Test("arrow keys, Home/End and control keys decode; unknown sequences are dropped, never text")
    func decodesKeys() {
        #expect(decode("\u{1B}[D\u{1B}[C\u{1B}[A\u{1B}[B") == [.left, .right, .up, .down])
        #expect(decode("\u{1B}OD\u{1B}OH\u{1B}OF") == [.left, .home, .end])
        #expect(decode("\u{1B}[H\u{1B}[F\u{1B}[1~\u{1B}[4~\u{1B}[7~\u{1B}[8~\u{1B}[3~") == [.home, .end, .home, .end, .home, .end, .delete])
        #expect(decode("\u{1B}[1;5D\u{1B}[1;5C\u{1B}b\u{1B}f") == [.wordLeft, .wordRight, .wordLeft, .wordRight])
        #expect(decode("\u{01}\u{05}\u{02}\u{06}\u{15}\u{0B}\u{17}\u{03}\u{04}\u{0C}\u{10}\u{0E}")
                == [.home, .end, .left, .right, .killToStart, .killToEnd, .killWord, .interrupt, .endOfInput, .clearScreen, .up, .down])
        #expect(decode("\u{7F}\u{08}\r\n") == [.backspace, .backspace, .enter, .enter])
        #expect(decode("a\u{1B}[15~b\u{1B}[200~c\u{1B}[201~") == [.text("abc")])
        #expect(decode("x\u{1B}[1;2Py") == [.text("xy")])
    }

    @Test("UTF-8 split across reads is held back until the character is whole")
    func splitUTF8() {
        var decoder = KeyDecoder()
        let bytes = Array("日本".utf8)  // 3 bytes each
        #expect(decoder.keys(from: bytes[0..<2]) == [])
        #expect(decoder.isPending)
        #expect(decoder.keys(from: bytes[2..<4]) == [.text("日")])
        #expect(decoder.keys(from: [bytes[4]]) == [])
        #expect(decoder.isPending && !decoder.awaitsEscapeSequence)
        decoder.dropPendingEscape()
        #expect(decoder.isPending, "a character is waited for, not given up")
        #expect(decoder.keys(from: bytes[5...]) == [.text("本")])
        #expect(!decoder.isPending)
        // Invalid bytes are dropped, the text around them kept.
        #expect(decoder.keys(from: [0x61, 0xFF, 0x80, 0x62]) == [.text("ab")])
        #expect(decoder.keys(from: [0xE3, 0x41]) == [.text("A")])
    }

    @Test("an escape sequence split across reads; a lone ESC is dropped when nothing follows")
    func splitEscape() {
        var decoder = KeyDecoder()
        #expect(decoder.keys(from: [0x1B]) == [])
        #expect(decoder.keys(from: Array("[".utf8)) == [])
        #expect(decoder.keys(from: Array("Dx".utf8)) == [.left, .text("x")])
        #expect(decoder.keys(from: [0x1B]) == [])
        #expect(decoder.awaitsEscapeSequence)
        decoder.dropPendingEscape()
        #expect(decoder.keys(from: [0x1B, 0x5B, 0x31]) == [])
        decoder.dropPendingEscape()  // a sequence cut short is dropped whole
        #expect(decoder.keys(from: Array("a".utf8)) == [.text("a")])
        #expect(!decoder.isPending)
        #expect(decoder.keys(from: [0x1B, 0x1B, 0x5B, 0x43]) == [.right], "Escape, then Right")
    }

    @Test("typing, moving by character and editing in the middle")
    func editsInTheMiddle() {
        var editor = LineEditor()
        type(decode("日本の首は？"), into: &editor)
        #expect(editor.cursor == 6)
        type([.left, .left, .text("都")], into: &editor)
        #expect(editor.text == "日本の首都は？")
        #expect(editor.cursor == 5)
        type([.home, .delete, .end, .backspace], into: &editor)
        #expect(editor.text == "本の首都は")
        type([.home, .right, .text("🌸")], into: &editor)
        #expect(editor.text == "本🌸の首都は")
        #expect(editor.cursor == 2)
        #expect(type([.enter], into: &editor) == .submitted("本🌸の首都は", addedToHistory: true))
        #expect(editor.text.isEmpty && editor.cursor == 0)
    }

    @Test("the cursor moves by grapheme: combining marks, flags and voiced kana stay whole")
    func graphemes() {
        var editor = LineEditor()
        type([.text("e"), .text("\u{301}"), .text("が"), .text("か\u{3099}"), .text("🇯🇵")], into: &editor)
        #expect(editor.characters.count == 4)
        #expect(editor.cursor == 4)
        type([.backspace], into: &editor)
        #expect(editor.text == "e\u{301}がか\u{3099}")
        type([.left, .left, .backspace], into: &editor)
        #expect(editor.text == "がか\u{3099}")
        #expect(editor.cursor == 0)
        // A combining mark typed before a character joins the character before the cursor.
        type([.right, .text("\u{3099}")], into: &editor)
        #expect(editor.characters.count == 2 && editor.cursor == 1)
    }

    @Test("Ctrl-U, Ctrl-K and Ctrl-W delete to the start, to the end, and the word before the cursor")
    func kills() {
        var editor = LineEditor()
        type(decode("東京 の 天気は"), into: &editor)
        type([.killWord], into: &editor)
        #expect(editor.text == "東京 の ")
        type([.killWord], into: &editor)
        #expect(editor.text == "東京 ")
        type([.text("大阪"), .wordLeft], into: &editor)
        #expect(editor.cursor == 3)
        type([.killToEnd], into: &editor)
        #expect(editor.text == "東京 ")
        type([.left, .killToStart], into: &editor)
        #expect(editor.text == " " && editor.cursor == 0)
        type([.wordRight], into: &editor)
        #expect(editor.cursor == 1)
    }

    @Test("Ctrl-D ends input only on an empty line; Ctrl-C drops the line")
    func endAndInterrupt() {
        var editor = LineEditor()
        #expect(type([.endOfInput], into: &editor) == .endOfInput)
        type(decode("abc\u{02}\u{02}"), into: &editor)
        #expect(type([.endOfInput], into: &editor) == .editing)
        #expect(editor.text == "ac")
        #expect(type([.interrupt], into: &editor) == .interrupted)
        #expect(editor.text.isEmpty && editor.cursor == 0)
        #expect(editor.history.isEmpty)
    }

    @Test("Up and Down go through the history and back to the line being written")
    func history() {
        var editor = LineEditor(history: ["一つ目"])
        #expect(type(decode("二つ目\r"), into: &editor) == .submitted("二つ目", addedToHistory: true))
        #expect(type(decode("二つ目\r"), into: &editor) == .submitted("二つ目", addedToHistory: false), "no repeats")
        #expect(type(decode("  \r"), into: &editor) == .submitted("  ", addedToHistory: false), "no blank lines")
        type(decode("書きかけ"), into: &editor)
        type([.up], into: &editor)
        #expect(editor.text == "二つ目" && editor.cursor == 3)
        type([.up, .up], into: &editor)
        #expect(editor.text == "一つ目", "stops at the oldest")
        type([.down], into: &editor)
        #expect(editor.text == "二つ目")
        type([.down], into: &editor)
        #expect(editor.text == "書きかけ" && editor.cursor == 4)
        type([.down], into: &editor)
        #expect(editor.text == "書きかけ")
        // A recalled line edited and entered joins the history; the next Up shows it.
        type([.up, .backspace, .text("も"), .enter, .up], into: &editor)
        #expect(editor.text == "二つも")
        #expect(editor.history == ["一つ目", "二つ目", "二つも"])
        var limited = LineEditor(history: ["a", "b", "c"], historyLimit: 2)
        #expect(limited.history == ["b", "c"])
        type(decode("d\r"), into: &limited)
        #expect(limited.history == ["c", "d"])
    }

    @Test("display width: 2 for kanji, kana, fullwidth forms and Hangul, 0 for combining marks, 1 otherwise")
    func widths() {
        #expect(DisplayWidth.of("日本語") == 6)
        #expect(DisplayWidth.of("ひらがなカタカナ") == 16)
        #expect(DisplayWidth.of("ｶﾀｶﾅ") == 4, "halfwidth katakana")
        #expect(DisplayWidth.of("ＡＢ！") == 6)
        #expect(DisplayWidth.of("한국어") == 6)
        #expect(DisplayWidth.of("、。「」") == 8)
        #expect(DisplayWidth.of("abc ") == 4)
        #expect(DisplayWidth.of("e\u{301}") == 1)
        #expect(DisplayWidth.of("か\u{3099}") == 2)
        #expect(DisplayWidth.of(Unicode.Scalar(0x301)!) == 0)
        #expect(DisplayWidth.of("🌸") == 2)
    }

    @Test("a line wider than the terminal scrolls sideways by display width, keeping the cursor on screen")
    func view() {
        let line = Array("あいうえおかきくけこ")  // 20 columns
        let whole = LineEditor.view(of: line, cursor: 10, width: 40, firstVisible: 0)
        #expect(whole == .init(firstVisible: 0, text: "あいうえおかきくけこ", cursorColumn: 20, isWholeLine: true))
        // 9 columns: the cursor at the end needs one, so four wide characters (8 columns) show.
        let end = LineEditor.view(of: line, cursor: 10, width: 9, firstVisible: 0)
        #expect(end == .init(firstVisible: 6, text: "きくけこ", cursorColumn: 8, isWholeLine: false))
        // Moving left inside the window keeps it; past its start, it follows the cursor.
        #expect(LineEditor.view(of: line, cursor: 7, width: 9, firstVisible: 6).firstVisible == 6)
        let back = LineEditor.view(of: line, cursor: 2, width: 9, firstVisible: 6)
        #expect(back == .init(firstVisible: 2, text: "うえおか", cursorColumn: 0, isWholeLine: false))
        // A wide character under the cursor must fit whole.
        let mixed = Array("abcあ")
        #expect(LineEditor.view(of: mixed, cursor: 3, width: 4, firstVisible: 0).firstVisible == 1)
    }
}
