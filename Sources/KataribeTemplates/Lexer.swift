/// One token of a template, as Jinja's lexer makes them.
struct Token {
    enum Kind: Equatable {
        case data(String)
        case blockBegin, blockEnd, variableBegin, variableEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
        case eof
    }

    let kind: Kind
    let line: Int
}

/// Jinja's lexer with transformers' settings (`trim_blocks=True`, `lstrip_blocks=True`) and the default
/// delimiters, over Unicode scalars (Python strings are sequences of code points):
///
/// - the source's line breaks (`\r\n`, `\r`, `\n`) become `\n`, and one trailing newline is dropped
///   (`keep_trailing_newline=False`);
/// - `{%-`/`{{-`/`{#-` strip all whitespace before the tag, `-%}`/`-}}`/`-#}` all whitespace after it;
/// - trim_blocks: the newline right after `%}` or `#}` is dropped (`+%}` keeps it);
/// - lstrip_blocks: spaces and tabs between the start of a line and `{%` or `{#` are dropped
///   (`{%+` keeps them), never before `{{`;
/// - inside tags, the end delimiter only counts when brackets are balanced (`{{ {'a': 1} }}`).
struct Lexer {
    private let source: [Unicode.Scalar]
    private var pos = 0
    private var line = 1
    private var tokens: [Token] = []

    static func tokenize(_ text: String, limits: TemplateLimits) throws(TemplateError) -> [Token] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        var iterator = text.unicodeScalars.makeIterator()
        var pending = iterator.next()
        while let scalar = pending {
            pending = iterator.next()
            if scalar == "\r" {
                scalars.append("\n")
                if pending == "\n" { pending = iterator.next() }
            } else {
                scalars.append(scalar)
            }
            if scalars.count > limits.maximumSourceLength {
                throw .limitExceeded(message: "the template is longer than \(limits.maximumSourceLength) characters")
            }
        }
        if scalars.last == "\n" { scalars.removeLast() }
        var lexer = Lexer(source: scalars)
        try lexer.run()
        return lexer.tokens
    }

    private init(source: [Unicode.Scalar]) { self.source = source }

    private enum TagKind { case block, variable, comment }

    private mutating func run() throws(TemplateError) {
        var lineStarting = true
        while pos < source.count {
            guard let (tagStart, kind) = nextTagStart(from: pos) else {
                emitData(pos, source.count)
                pos = source.count
                break
            }
            let afterDelimiter = tagStart + 2
            let sign: Unicode.Scalar? = afterDelimiter < source.count && (source[afterDelimiter] == "-" || source[afterDelimiter] == "+")
                ? source[afterDelimiter] : nil
            var textEnd = tagStart
            if sign == "-" {
                while textEnd > pos, source[textEnd - 1].isPythonWhitespace { textEnd -= 1 }
            } else if sign != "+", kind != .variable {
                // lstrip_blocks: only when nothing but whitespace stands between the line start and the tag.
                var lineStart = textEnd
                while lineStart > pos, source[lineStart - 1] != "\n" { lineStart -= 1 }
                let atLineStart = lineStart > pos || (lineStart == pos && lineStarting)
                if atLineStart, lineStart < textEnd, source[lineStart..<textEnd].allSatisfy(\.isPythonWhitespace) {
                    textEnd = lineStart
                }
            }
            emitData(pos, textEnd)
            line += count(newlinesIn: textEnd, tagStart)
            pos = afterDelimiter + (sign == nil ? 0 : 1)

            switch kind {
            case .comment:
                lineStarting = try skipComment()
            case .block:
                if let rawEnd = rawBlockHeader(at: pos) {
                    pos = rawEnd.bodyStart
                    lineStarting = try readRawBody(trimmedHeader: rawEnd.endsWithNewline)
                    continue
                }
                tokens.append(Token(kind: .blockBegin, line: line))
                lineStarting = try lexTag(block: true)
            case .variable:
                tokens.append(Token(kind: .variableBegin, line: line))
                lineStarting = try lexTag(block: false)
            }
        }
        tokens.append(Token(kind: .eof, line: line))
    }

    private func nextTagStart(from start: Int) -> (Int, TagKind)? {
        var i = start
        while i + 1 < source.count {
            if source[i] == "{" {
                switch source[i + 1] {
                case "%": return (i, .block)
                case "{": return (i, .variable)
                case "#": return (i, .comment)
                default: break
                }
            }
            i += 1
        }
        return nil
    }

    private mutating func emitData(_ start: Int, _ end: Int) {
        guard start < end else { return }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: source[start..<end])
        tokens.append(Token(kind: .data(String(text)), line: line))
        line += count(newlinesIn: start, end)
    }

    private func count(newlinesIn start: Int, _ end: Int) -> Int {
        guard start < end else { return 0 }
        return source[start..<end].reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
    }

    private func matches(_ text: String, at index: Int) -> Bool {
        var i = index
        for scalar in text.unicodeScalars {
            guard i < source.count, source[i] == scalar else { return false }
            i += 1
        }
        return true
    }

    /// Consumes what follows a tag's end: all whitespace after `-%}`, one newline after `%}` (trim_blocks).
    /// Returns whether what was consumed ends a line, which decides lstrip_blocks for the next tag.
    private mutating func consumeEnd(delimiterEnd: Int, stripAll: Bool, trimNewline: Bool) -> Bool {
        pos = delimiterEnd
        var endsLine = false
        if stripAll {
            while pos < source.count, source[pos].isPythonWhitespace {
                endsLine = source[pos] == "\n"
                if endsLine { line += 1 }
                pos += 1
            }
        } else if trimNewline, pos < source.count, source[pos] == "\n" {
            line += 1
            pos += 1
            endsLine = true
        }
        return endsLine
    }

    private mutating func skipComment() throws(TemplateError) -> Bool {
        let startLine = line
        var i = pos
        while i < source.count {
            if matches("+#}", at: i) {
                line += count(newlinesIn: pos, i)
                return consumeEnd(delimiterEnd: i + 3, stripAll: false, trimNewline: false)
            }
            if matches("-#}", at: i) {
                line += count(newlinesIn: pos, i)
                return consumeEnd(delimiterEnd: i + 3, stripAll: true, trimNewline: false)
            }
            if matches("#}", at: i) {
                line += count(newlinesIn: pos, i)
                return consumeEnd(delimiterEnd: i + 2, stripAll: false, trimNewline: true)
            }
            i += 1
        }
        throw .syntax(message: "Missing end of comment tag", line: startLine)
    }

    /// `{% raw %}` (with optional `-` before `%}`): where its body starts.
    private func rawBlockHeader(at start: Int) -> (bodyStart: Int, endsWithNewline: Bool)? {
        var i = start
        while i < source.count, source[i].isPythonWhitespace { i += 1 }
        guard matches("raw", at: i) else { return nil }
        i += 3
        while i < source.count, source[i].isPythonWhitespace { i += 1 }
        if matches("-%}", at: i) {
            i += 3
            while i < source.count, source[i].isPythonWhitespace { i += 1 }
            return (i, false)
        }
        guard matches("%}", at: i) else { return nil }
        // The raw header's `%}` is not followed by trim_blocks in Jinja's rule.
        return (i + 2, false)
    }

    private mutating func readRawBody(trimmedHeader: Bool) throws(TemplateError) -> Bool {
        let startLine = line
        var i = pos
        while i < source.count {
            if matches("{%", at: i) {
                var j = i + 2
                var sign: Unicode.Scalar?
                if j < source.count, source[j] == "-" || source[j] == "+" { sign = source[j]; j += 1 }
                while j < source.count, source[j].isPythonWhitespace { j += 1 }
                if matches("endraw", at: j) {
                    j += 6
                    while j < source.count, source[j].isPythonWhitespace { j += 1 }
                    let endLength: Int, stripAll: Bool, trim: Bool
                    if matches("+%}", at: j) { endLength = 3; stripAll = false; trim = false }
                    else if matches("-%}", at: j) { endLength = 3; stripAll = true; trim = false }
                    else if matches("%}", at: j) { endLength = 2; stripAll = false; trim = true }
                    else { i += 1; continue }
                    var textEnd = i
                    if sign == "-" {
                        while textEnd > pos, source[textEnd - 1].isPythonWhitespace { textEnd -= 1 }
                    } else if sign != "+" {
                        var lineStart = textEnd
                        while lineStart > pos, source[lineStart - 1] != "\n" { lineStart -= 1 }
                        if lineStart > pos, lineStart < textEnd, source[lineStart..<textEnd].allSatisfy(\.isPythonWhitespace) {
                            textEnd = lineStart
                        }
                    }
                    emitData(pos, textEnd)
                    line += count(newlinesIn: textEnd, j)
                    return consumeEnd(delimiterEnd: j + endLength, stripAll: stripAll, trimNewline: trim)
                }
            }
            i += 1
        }
        throw .syntax(message: "Missing end of raw directive", line: startLine)
    }

    /// Tokens inside `{% ... %}` or `{{ ... }}` up to the end delimiter.
    private mutating func lexTag(block: Bool) throws(TemplateError) -> Bool {
        var balance: [Unicode.Scalar] = []
        while true {
            guard pos < source.count else { return false }  // the parser reports the missing end
            if balance.isEmpty {
                if block {
                    if matches("+%}", at: pos) {
                        tokens.append(Token(kind: .blockEnd, line: line))
                        return consumeEnd(delimiterEnd: pos + 3, stripAll: false, trimNewline: false)
                    }
                    if matches("-%}", at: pos) {
                        tokens.append(Token(kind: .blockEnd, line: line))
                        return consumeEnd(delimiterEnd: pos + 3, stripAll: true, trimNewline: false)
                    }
                    if matches("%}", at: pos) {
                        tokens.append(Token(kind: .blockEnd, line: line))
                        return consumeEnd(delimiterEnd: pos + 2, stripAll: false, trimNewline: true)
                    }
                } else {
                    if matches("-}}", at: pos) {
                        tokens.append(Token(kind: .variableEnd, line: line))
                        return consumeEnd(delimiterEnd: pos + 3, stripAll: true, trimNewline: false)
                    }
                    if matches("}}", at: pos) {
                        tokens.append(Token(kind: .variableEnd, line: line))
                        return consumeEnd(delimiterEnd: pos + 2, stripAll: false, trimNewline: false)
                    }
                }
            }
            let scalar = source[pos]
            if scalar.isPythonWhitespace {
                if scalar == "\n" { line += 1 }
                pos += 1
                continue
            }
            if let (value, end) = lexFloat(at: pos) {
                tokens.append(Token(kind: .float(value), line: line))
                pos = end
                continue
            }
            if let (value, end) = try lexInteger(at: pos) {
                tokens.append(Token(kind: .integer(value), line: line))
                pos = end
                continue
            }
            if scalar.properties.isXIDStart || scalar == "_" {
                var end = pos + 1
                while end < source.count, source[end].properties.isXIDContinue { end += 1 }
                var name = String.UnicodeScalarView()
                name.append(contentsOf: source[pos..<end])
                tokens.append(Token(kind: .name(String(name)), line: line))
                pos = end
                continue
            }
            if scalar == "'" || scalar == "\"" {
                let startLine = line
                let (text, end) = try lexString(at: pos)
                tokens.append(Token(kind: .string(text), line: startLine))
                pos = end
                continue
            }
            if let op = Self.operators.first(where: { matches($0, at: pos) }) {
                switch op {
                case "(": balance.append(")")
                case "[": balance.append("]")
                case "{": balance.append("}")
                case ")", "]", "}":
                    guard let expected = balance.popLast() else {
                        throw .syntax(message: "unexpected '\(op)'", line: line)
                    }
                    if String(expected) != op {
                        throw .syntax(message: "unexpected '\(op)', expected '\(expected)'", line: line)
                    }
                default: break
                }
                tokens.append(Token(kind: .op(op), line: line))
                pos += op.unicodeScalars.count
                continue
            }
            throw .syntax(message: "unexpected char \(UntrustedQuote.scalar(scalar)) at \(pos)", line: line)
        }
    }

    /// Longest first, as Jinja's operator regex tries them.
    private static let operators = ["//", "**", "==", "!=", ">=", "<=",
                                    "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"]

    private func isDigit(_ i: Int) -> Bool { i < source.count && ("0"..."9").contains(source[i]) }

    /// `(\d+_)*\d+` from `i`: its end, or nil.
    private func digitRun(_ i: Int) -> Int? {
        guard isDigit(i) else { return nil }
        var j = i
        while true {
            while isDigit(j) { j += 1 }
            if j < source.count, source[j] == "_", isDigit(j + 1) { j += 1; continue }
            return j
        }
    }

    /// Jinja's float_re: digits with a fraction and/or an exponent, not right after a dot.
    private func lexFloat(at i: Int) -> (Double, Int)? {
        guard !(i > 0 && source[i - 1] == "."), let intEnd = digitRun(i) else { return nil }
        var end = intEnd
        var hasFraction = false
        if end < source.count, source[end] == ".", let fracEnd = digitRun(end + 1) {
            end = fracEnd
            hasFraction = true
        }
        var hasExponent = false
        if end < source.count, source[end] == "e" || source[end] == "E" {
            var j = end + 1
            if j < source.count, source[j] == "+" || source[j] == "-" { j += 1 }
            if let expEnd = digitRun(j) {
                end = expEnd
                hasExponent = true
            }
        }
        guard hasFraction || hasExponent else { return nil }
        let text = String(String.UnicodeScalarView(source[i..<end].filter { $0 != "_" }))
        guard let value = Double(text) else { return nil }
        return (value, end)
    }

    private func lexInteger(at i: Int) throws(TemplateError) -> (Int, Int)? {
        guard isDigit(i) else { return nil }
        func run(_ start: Int, digit: (Unicode.Scalar) -> Bool) -> Int? {
            // (_?[digits])+
            var j = start
            var any = false
            while j < source.count {
                if digit(source[j]) { j += 1; any = true; continue }
                if source[j] == "_", j + 1 < source.count, digit(source[j + 1]) { j += 2; any = true; continue }
                break
            }
            return any ? j : nil
        }
        var radix = 10
        var digitsStart = i
        var end: Int?
        if source[i] == "0", i + 1 < source.count {
            switch source[i + 1] {
            case "b", "B":
                radix = 2; digitsStart = i + 2
                end = run(digitsStart) { $0 == "0" || $0 == "1" }
            case "o", "O":
                radix = 8; digitsStart = i + 2
                end = run(digitsStart) { ("0"..."7").contains($0) }
            case "x", "X":
                radix = 16; digitsStart = i + 2
                end = run(digitsStart) { $0.properties.isASCIIHexDigit }
            default: break
            }
        }
        if end == nil {
            radix = 10
            digitsStart = i
            if source[i] == "0" {
                var j = i + 1
                while true {
                    if j < source.count, source[j] == "0" { j += 1; continue }
                    if j + 1 < source.count, source[j] == "_", source[j + 1] == "0" { j += 2; continue }
                    break
                }
                end = j
            } else {
                end = run(i) { ("0"..."9").contains($0) }
            }
        }
        guard let end else { return nil }
        let digits = String(String.UnicodeScalarView(source[digitsStart..<end].filter { $0 != "_" }))
        guard let value = Int(digits, radix: radix) else {
            throw .limitExceeded(message: "line \(line): the integer \(digits.prefix(40)) is too large")
        }
        return (value, end)
    }

    /// A quoted string, unescaped as Jinja does it (Python's `unicode-escape` codec on the text
    /// between the quotes, non-ASCII characters passing through).
    private mutating func lexString(at start: Int) throws(TemplateError) -> (String, Int) {
        let quote = source[start]
        var i = start + 1
        var out = String.UnicodeScalarView()
        while true {
            guard i < source.count else {
                throw .syntax(message: "unexpected char \(UntrustedQuote.scalar(quote)) at \(start)", line: line)
            }
            let c = source[i]
            if c == quote { return (String(out), i + 1) }
            if c == "\n" { line += 1 }
            guard c == "\\" else { out.append(c); i += 1; continue }
            guard i + 1 < source.count else {
                throw .syntax(message: "unexpected char \(UntrustedQuote.scalar(quote)) at \(start)", line: line)
            }
            let e = source[i + 1]
            i += 2
            switch e {
            case "\n": line += 1  // a line continuation
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var value = Int(e.value - 48)
                var digits = 1
                while digits < 3, i < source.count, ("0"..."7").contains(source[i]) {
                    value = value * 8 + Int(source[i].value - 48)
                    i += 1
                    digits += 1
                }
                try appendCodePoint(value, to: &out)
            case "x", "u", "U":
                let width = e == "x" ? 2 : e == "u" ? 4 : 8
                var value = 0
                for _ in 0..<width {
                    guard i < source.count, source[i].properties.isASCIIHexDigit,
                          let digit = Int(String(source[i]), radix: 16) else {
                        throw .syntax(message: "truncated \\\(e)\(String(repeating: "X", count: width)) escape", line: line)
                    }
                    value = value * 16 + digit
                    i += 1
                }
                try appendCodePoint(value, to: &out)
            case "N":
                throw .syntax(message: "\\N{...} escapes are not supported", line: line)
            default:
                out.append("\\")
                if e.isASCII {
                    out.append(e)
                } else {
                    // backslashreplace turned the character into its escape text first, so that text stays.
                    let hex = String(e.value, radix: 16)
                    let escape = e.value < 0x100 ? "x" + String(repeating: "0", count: 2 - hex.count) + hex
                        : e.value < 0x10000 ? "u" + String(repeating: "0", count: 4 - hex.count) + hex
                        : "U" + String(repeating: "0", count: 8 - hex.count) + hex
                    out.append(contentsOf: ("\\" + escape).unicodeScalars.dropFirst())
                }
            }
        }
    }

    private func appendCodePoint(_ value: Int, to out: inout String.UnicodeScalarView) throws(TemplateError) {
        guard let scalar = Unicode.Scalar(UInt32(clamping: value)) else {
            throw .syntax(message: "the escape \\u\(String(value, radix: 16)) is not a character (lone surrogate or too large)", line: line)
        }
        out.append(scalar)
    }
}

extension Unicode.Scalar {
    /// Python's `str.isspace()` (what `\s`, `strip()` and `split()` use): Unicode White_Space plus
    /// the ASCII information separators U+001C–U+001F.
    var isPythonWhitespace: Bool {
        switch value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }
}

/// Quoting template text in error messages: escaped, so a hostile template cannot put control
/// sequences on a terminal through an error.
enum UntrustedQuote {
    static func scalar(_ scalar: Unicode.Scalar) -> String {
        "'" + scalar.escaped(asASCII: true) + "'"
    }

    static func text(_ text: String, limit: Int = 80) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit { out += "…"; break }
            out += scalar.properties.generalCategory == .control || scalar == "\\" ? scalar.escaped(asASCII: true) : String(scalar)
            count += 1
        }
        return out
    }
}
