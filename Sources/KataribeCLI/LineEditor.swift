/// The line editor of `kataribe chat` at a terminal, without the terminal: keys in, edits out.
/// `KeyDecoder` turns the bytes a terminal sends into `EditorKey`s, `LineEditor` applies them to a
/// line and its history, and `LineEditor.view(of:cursor:width:firstVisible:)` says what part of the
/// line fits on screen. `TerminalLineReader` does the I/O (raw mode, reading, redrawing).

/// A key, or text typed or pasted, as the line editor sees it.
enum EditorKey: Equatable, Sendable {
    /// Printable text: one key, or a run of them (a paste, a chunk of typed Japanese).
    case text(String)
    case enter
    /// Deletes the character before the cursor (Backspace, Ctrl-H).
    case backspace
    /// Deletes the character under the cursor (Delete).
    case delete
    case left, right
    /// Start and end of the line (Home/End, Ctrl-A/Ctrl-E).
    case home, end
    /// A word back and forward (Alt-B/Alt-F, Ctrl-Left/Ctrl-Right).
    case wordLeft, wordRight
    /// The previous and next line of the history (Up/Down, Ctrl-P/Ctrl-N).
    case up, down
    /// Deletes from the start of the line to the cursor (Ctrl-U).
    case killToStart
    /// Deletes from the cursor to the end of the line (Ctrl-K).
    case killToEnd
    /// Deletes the word before the cursor (Ctrl-W, Alt-Backspace).
    case killWord
    /// Ctrl-C: the line is dropped.
    case interrupt
    /// Ctrl-D: end of input on an empty line, Delete otherwise.
    case endOfInput
    /// Ctrl-L.
    case clearScreen
}

/// Reads the bytes of a terminal in raw mode as keys: UTF-8 text (a character may arrive split
/// across reads), control keys, and the escape sequences of xterm-style terminals (CSI `ESC [`,
/// SS3 `ESC O`, Alt as an `ESC` prefix). Sequences it does not know are dropped whole, so they never
/// reach the line as text (`^[[15~`).
struct KeyDecoder {
    /// Bytes of a sequence or character not finished yet.
    private var pending: [UInt8] = []

    /// Whether bytes are held back waiting for the rest of a character or a sequence.
    var isPending: Bool { !pending.isEmpty }

    /// Whether what is held back starts with `ESC`: when nothing more comes soon, it was the Escape
    /// key (or a broken sequence), and `dropPendingEscape()` lets the decoder go on. (A character split across
    /// reads is only ever waited for: its bytes come together.)
    var awaitsEscapeSequence: Bool { pending.first == 0x1B }

    /// The keys `bytes` complete (with what was pending before them).
    mutating func keys(from bytes: some Sequence<UInt8>) -> [EditorKey] {
        pending.append(contentsOf: bytes)
        var keys: [EditorKey] = []
        var i = 0
        while i < pending.count {
            guard let (key, length) = Self.key(at: i, in: pending) else { break }  // unfinished
            i += length
            guard let key else { continue }
            if case .text(let more) = key, case .text(let text)? = keys.last {
                keys[keys.count - 1] = .text(text + more)
            } else {
                keys.append(key)
            }
        }
        pending.removeFirst(i)
        return keys
    }

    /// Gives up on a pending escape sequence (nothing more came): the Escape key, or a sequence cut
    /// short, is dropped whole. (Nothing else can be behind it: a byte after `ESC` that cannot
    /// continue a sequence is decoded at once.)
    mutating func dropPendingEscape() {
        if awaitsEscapeSequence { pending = [] }
    }

    /// The key at `i` and how many bytes it takes (a nil key: bytes that mean nothing here); nil
    /// when the bytes at `i` are the start of something not complete yet.
    private static func key(at i: Int, in bytes: [UInt8]) -> (EditorKey?, Int)? {
        let byte = bytes[i]
        switch byte {
        case 0x1B: return escape(at: i, in: bytes)
        case 0x0D, 0x0A: return (.enter, 1)
        case 0x7F, 0x08: return (.backspace, 1)
        case 0x09: return (.text(" "), 1)  // no tab stops in a one-line editor
        case 0x01: return (.home, 1)
        case 0x02: return (.left, 1)
        case 0x03: return (.interrupt, 1)
        case 0x04: return (.endOfInput, 1)
        case 0x05: return (.end, 1)
        case 0x06: return (.right, 1)
        case 0x0B: return (.killToEnd, 1)
        case 0x0C: return (.clearScreen, 1)
        case 0x0E: return (.down, 1)
        case 0x10: return (.up, 1)
        case 0x15: return (.killToStart, 1)
        case 0x17: return (.killWord, 1)
        case 0x00..<0x20: return (nil, 1)
        case 0x20..<0x7F: return (.text(String(UnicodeScalar(byte))), 1)
        default: return utf8Character(at: i, in: bytes)
        }
    }

    private static func utf8Character(at i: Int, in bytes: [UInt8]) -> (EditorKey?, Int)? {
        let length = switch bytes[i] {
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 0
        }
        guard length > 0 else { return (nil, 1) }  // a stray continuation byte or an invalid lead byte
        let available = min(length, bytes.count - i)
        // A byte that cannot continue the character ends it there: the lead byte alone is dropped.
        for j in 1..<available where !(0x80...0xBF).contains(bytes[i + j]) { return (nil, 1) }
        guard available == length else { return nil }
        guard let text = String(validating: bytes[i..<(i + length)], as: UTF8.self) else { return (nil, 1) }  // overlong, surrogate
        // C1 controls are not text either.
        if let scalar = text.unicodeScalars.first, (0x80..<0xA0).contains(scalar.value) { return (nil, length) }
        return (.text(text), length)
    }

    private static func escape(at i: Int, in bytes: [UInt8]) -> (EditorKey?, Int)? {
        guard i + 1 < bytes.count else { return nil }
        switch bytes[i + 1] {
        case UInt8(ascii: "["):
            // CSI: parameter and intermediate bytes, then a final byte in 0x40...0x7E.
            var j = i + 2
            while j < bytes.count, !(0x40...0x7E).contains(bytes[j]) {
                guard (0x20...0x3F).contains(bytes[j]) else { return (nil, j - i) }  // not a sequence after all
                j += 1
            }
            guard j < bytes.count else { return j - i > 32 ? (nil, j - i) : nil }
            let parameters = String(decoding: bytes[(i + 2)..<j], as: UTF8.self)
            return (csiKey(final: bytes[j], parameters: parameters), j - i + 1)
        case UInt8(ascii: "O"):
            guard i + 2 < bytes.count else { return nil }
            return (csiKey(final: bytes[i + 2], parameters: ""), 3)
        case UInt8(ascii: "b"), UInt8(ascii: "B"): return (.wordLeft, 2)
        case UInt8(ascii: "f"), UInt8(ascii: "F"): return (.wordRight, 2)
        case 0x7F, 0x08: return (.killWord, 2)
        case 0x1B: return (nil, 1)  // Escape pressed, then another sequence: only this ESC is dropped
        case 0x20..<0x7F: return (nil, 2)  // Alt with a key the editor has no use for
        default: return (nil, 1)  // the next byte is a key of its own
        }
    }

    /// The key of `ESC [ parameters final` (and of `ESC O final`).
    private static func csiKey(final: UInt8, parameters: String) -> EditorKey? {
        let numbers = parameters.split(separator: ";").map { Int($0) }
        // xterm's modifiers (`ESC [ 1 ; 5 D` is Ctrl-Left): 1 + (Shift 1, Alt 2, Ctrl 4).
        let modifier = numbers.count > 1 ? (numbers[1] ?? 1) - 1 : 0
        let byWord = modifier & 0b110 != 0
        switch UnicodeScalar(final) {
        case "A": return .up
        case "B": return .down
        case "C": return byWord ? .wordRight : .right
        case "D": return byWord ? .wordLeft : .left
        case "H": return .home
        case "F": return .end
        case "~":
            switch numbers.first ?? nil {
            case 1?, 7?: return .home
            case 4?, 8?: return .end
            case 3?: return .delete
            default: return nil  // F-keys, Insert, Page Up/Down, bracketed-paste markers
            }
        default: return nil
        }
    }
}

/// One line being edited, and the lines entered before it.
///
/// The line is a list of `Character`s (grapheme clusters): the cursor moves, and Backspace
/// deletes, by what a reader sees as one character, whether it is one byte, three (kana, kanji),
/// or several scalars (a base letter and a combining mark, a flag).
struct LineEditor {
    enum Outcome: Equatable {
        case editing
        /// Enter: the line, and whether it joined the history (not blank, not the same as the last).
        case submitted(String, addedToHistory: Bool)
        /// Ctrl-D on an empty line.
        case endOfInput
        /// Ctrl-C: the line was dropped.
        case interrupted
        /// Ctrl-L: the screen should be cleared (the line is unchanged).
        case clearScreen
    }

    private(set) var characters: [Character] = []
    /// Where the cursor is: before `characters[cursor]`, or at the end.
    private(set) var cursor = 0
    /// Earlier lines, oldest first.
    private(set) var history: [String]
    let historyLimit: Int
    /// The history line shown; `history.count` while on the line being written.
    private var historyIndex: Int
    /// The line being written, kept while earlier lines are shown.
    private var draft: [Character] = []

    init(history: [String] = [], historyLimit: Int = 1000) {
        self.history = Array(history.suffix(historyLimit))
        self.historyLimit = historyLimit
        historyIndex = self.history.count
    }

    var text: String { String(characters) }

    mutating func apply(_ key: EditorKey) -> Outcome {
        switch key {
        case .text(let text): insert(text)
        case .enter: return submit()
        case .backspace:
            if cursor > 0 {
                characters.remove(at: cursor - 1)
                cursor -= 1
            }
        case .delete: deleteUnderCursor()
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(characters.count, cursor + 1)
        case .home: cursor = 0
        case .end: cursor = characters.count
        case .wordLeft: cursor = wordStart(before: cursor)
        case .wordRight: cursor = wordEnd(after: cursor)
        case .up: showHistory(historyIndex - 1)
        case .down: showHistory(historyIndex + 1)
        case .killToStart:
            characters.removeSubrange(0..<cursor)
            cursor = 0
        case .killToEnd: characters.removeSubrange(cursor...)
        case .killWord:
            let start = wordStart(before: cursor)
            characters.removeSubrange(start..<cursor)
            cursor = start
        case .interrupt:
            startNewLine()
            return .interrupted
        case .endOfInput:
            if characters.isEmpty { return .endOfInput }
            deleteUnderCursor()
        case .clearScreen: return .clearScreen
        }
        return .editing
    }

    /// Inserts `text` at the cursor and puts the cursor after it. Text that joins the character
    /// before it (a combining mark) becomes part of it, and so the cursor never ends up inside a
    /// character.
    private mutating func insert(_ text: String) {
        let before = String(characters[..<cursor]) + text
        let all = Array(before + String(characters[cursor...]))
        var position = 0, bytes = 0
        let target = before.utf8.count
        while position < all.count && bytes < target {
            bytes += all[position].utf8.count
            position += 1
        }
        characters = all
        cursor = position
    }

    private mutating func deleteUnderCursor() {
        if cursor < characters.count { characters.remove(at: cursor) }
    }

    private mutating func submit() -> Outcome {
        let line = text
        let added = !line.allSatisfy(\.isWhitespace) && history.last != line
        if added {
            history.append(line)
            if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
        }
        startNewLine()
        return .submitted(line, addedToHistory: added)
    }

    private mutating func startNewLine() {
        characters = []
        cursor = 0
        draft = []
        historyIndex = history.count
    }

    private mutating func showHistory(_ index: Int) {
        guard (0...history.count).contains(index), index != historyIndex else { return }
        if historyIndex == history.count { draft = characters }
        historyIndex = index
        characters = index == history.count ? draft : Array(history[index])
        cursor = characters.count
    }

    /// Words are what lies between whitespace, as for readline's Ctrl-W.
    private func wordStart(before position: Int) -> Int {
        var i = position
        while i > 0 && characters[i - 1].isWhitespace { i -= 1 }
        while i > 0 && !characters[i - 1].isWhitespace { i -= 1 }
        return i
    }

    private func wordEnd(after position: Int) -> Int {
        var i = position
        while i < characters.count && characters[i].isWhitespace { i += 1 }
        while i < characters.count && !characters[i].isWhitespace { i += 1 }
        return i
    }
}

extension LineEditor {
    /// The part of a line shown in `width` terminal columns (after the prompt): a window that
    /// scrolls sideways to keep the cursor on screen, so the line never wraps onto a second row.
    struct View: Equatable {
        /// Index of the first character shown.
        var firstVisible: Int
        /// The characters shown.
        var text: String
        /// Columns from the start of `text` to the cursor.
        var cursorColumn: Int
        /// Whether `text` is the whole line.
        var isWholeLine: Bool
    }

    /// The window over `characters` with the cursor at `cursor`; `firstVisible` is the previous
    /// window's start, kept where the cursor is still visible from it (so the text does not jump).
    static func view(of characters: [Character], cursor: Int, width: Int, firstVisible: Int) -> View {
        let widths = characters.map(DisplayWidth.of)
        let width = max(1, width)
        var first = min(max(0, firstVisible), cursor)
        // The cell under the cursor (1 column at the end) must fit too.
        let cursorCell = cursor < characters.count ? max(1, widths[cursor]) : 1
        var beforeCursor = widths[first..<cursor].reduce(0, +)
        while first < cursor && beforeCursor + cursorCell > width {
            beforeCursor -= widths[first]
            first += 1
        }
        var end = first, used = 0
        while end < characters.count && used + widths[end] <= width {
            used += widths[end]
            end += 1
        }
        return View(firstVisible: first, text: String(characters[first..<end]), cursorColumn: beforeCursor,
                    isWholeLine: first == 0 && end == characters.count)
    }
}

/// How many terminal columns text takes: 2 for East Asian wide and fullwidth characters (CJK
/// ideographs, kana, Hangul, fullwidth forms, most emoji), 0 for combining marks and other
/// zero-width characters, 1 otherwise. A simplified wcwidth, enough to redraw a line of Japanese.
enum DisplayWidth {
    static func of(_ text: some StringProtocol) -> Int {
        text.reduce(0) { $0 + of($1) }
    }

    /// A character (grapheme cluster) takes the width of its widest scalar: a base letter with
    /// combining marks is as wide as the letter, a Hangul syllable of jamo as wide as its first.
    static func of(_ character: Character) -> Int {
        character.unicodeScalars.reduce(0) { max($0, of($1)) }
    }

    static func of(_ scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v < 0x20 || (0x7F..<0xA0).contains(v) { return 0 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if (0x1160...0x11FF).contains(v) || v == 0x200B { return 0 }  // Hangul medial/final jamo, zero width space
        return wideRanges.contains { $0.contains(v) } ? 2 : 1
    }

    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F,    // Hangul initial jamo
        0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0...0x23F0, 0x23F3...0x23F3,
        0x25FD...0x25FE, 0x2614...0x2615, 0x2648...0x2653, 0x267F...0x267F, 0x2693...0x2693,
        0x26A1...0x26A1, 0x26AA...0x26AB, 0x26BD...0x26BE, 0x26C4...0x26C5, 0x26CE...0x26CE,
        0x26D4...0x26D4, 0x26EA...0x26EA, 0x26F2...0x26F3, 0x26F5...0x26F5, 0x26FA...0x26FA,
        0x26FD...0x26FD, 0x2705...0x2705, 0x270A...0x270B, 0x2728...0x2728, 0x274C...0x274C,
        0x274E...0x274E, 0x2753...0x2755, 0x2757...0x2757, 0x2795...0x2797, 0x27B0...0x27B0,
        0x27BF...0x27BF, 0x2B1B...0x2B1C, 0x2B50...0x2B50, 0x2B55...0x2B55,
        0x2E80...0x303E,    // CJK radicals, ideographic description, CJK symbols and punctuation
        0x3041...0x33FF,    // hiragana, katakana, bopomofo, Hangul compatibility jamo, kanbun, CJK compatibility
        0x3400...0x4DBF,    // CJK extension A
        0x4E00...0x9FFF,    // CJK unified ideographs
        0xA000...0xA4CF,    // Yi
        0xA960...0xA97F,    // Hangul jamo extended A
        0xAC00...0xD7A3,    // Hangul syllables
        0xF900...0xFAFF,    // CJK compatibility ideographs
        0xFE10...0xFE19,    // vertical forms
        0xFE30...0xFE6F,    // CJK compatibility forms, small form variants
        0xFF00...0xFF60,    // fullwidth forms
        0xFFE0...0xFFE6,    // fullwidth signs
        0x16FE0...0x18CFF,  // Tangut, Khitan, ideographic symbols
        0x1B000...0x1B2FF,  // kana supplement and extensions, Nüshu
        0x1F004...0x1F004, 0x1F0CF...0x1F0CF, 0x1F18E...0x1F18E, 0x1F191...0x1F19A,
        0x1F200...0x1F251,  // enclosed ideographic supplement
        0x1F300...0x1F64F,  // pictographs, emoticons
        0x1F680...0x1F6FF,  // transport and map symbols
        0x1F900...0x1F9FF,  // supplemental symbols and pictographs
        0x1FA70...0x1FAFF,  // symbols and pictographs extended A
        0x20000...0x2FFFD,  // CJK extensions B-F, compatibility supplement
        0x30000...0x3FFFD,  // CJK extensions G-H
    ]
}
