import Foundation

/// Values as Python writes them: `str()` for `{{ }}` and `~`, `repr()` inside containers, and
/// `json.dumps` for transformers' `tojson`.
extension Interpreter {
    /// `str(value)`; undefined is the empty string (Jinja's default `Undefined`).
    func str(_ value: Value) throws -> String {
        switch value {
        case .undefined: return ""
        case .string(let s): return s
        default: return try repr(value)
        }
    }

    func repr(_ value: Value, depth: Int = 0) throws -> String {
        try step()
        if depth > limits.maximumNesting { throw TemplateError.limitExceeded(message: "a value nested too deeply to print") }
        switch value {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return Self.floatRepr(d)
        case .string(let s): return Self.stringRepr(s)
        case .list(let items):
            return "[" + (try items.map { try repr($0, depth: depth + 1) }.joined(separator: ", ")) + "]"
        case .tuple(let items):
            let inner = try items.map { try repr($0, depth: depth + 1) }
            return "(" + inner.joined(separator: ", ") + (inner.count == 1 ? ",)" : ")")
        case .dict(let dict):
            return "{" + (try dict.items.map { "\(try repr($0.0, depth: depth + 1)): \(try repr($0.1, depth: depth + 1))" }
                .joined(separator: ", ")) + "}"
        case .namespace(let namespace):
            return "<Namespace " + (try repr(.dict(namespace.attributes), depth: depth + 1)) + ">"
        case .callable(let callable):
            switch callable.kind {
            case .macro(let macro): return "<Macro '\(macro.definition.name)'>"
            case .builtin(let name): return "<function \(name)>"
            case .method(_, let name): return "<built-in method \(name)>"
            }
        case .loop(let loop): return "<LoopContext \(loop.index0 + 1)/\(loop.items.count)>"
        }
    }

    /// `repr(float)`: the shortest digits that read back as the same double, in fixed notation when
    /// the decimal exponent is in [-4, 16), else as `1e+16` / `1.5e-07`.
    static func floatRepr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description has the same shortest round-trip digits; only the layout differs.
        var text = "\(d.magnitude)"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        var digits = text
        var pointPosition = digits.count
        if let dot = digits.firstIndex(of: ".") {
            pointPosition = digits.distance(from: digits.startIndex, to: dot)
            digits.remove(at: dot)
        }
        // Normalise to digits d1d2... with the value 0.d1d2... × 10^decimalExponent.
        let leadingZeros = digits.prefix { $0 == "0" }.count
        digits.removeFirst(leadingZeros)
        while digits.hasSuffix("0") { digits.removeLast() }
        if digits.isEmpty { digits = "0" }
        let decimalExponent = pointPosition - leadingZeros + exponent  // position of the point after the first digit group
        let sign = d < 0 ? "-" : ""
        let scientific = decimalExponent - 1  // exponent of d1.d2d3...
        if scientific < -4 || scientific >= 16 {
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let e = abs(scientific)
            return sign + mantissa + "e" + (scientific < 0 ? "-" : "+") + (e < 10 ? "0" : "") + String(e)
        }
        if decimalExponent <= 0 {
            return sign + "0." + String(repeating: "0", count: -decimalExponent) + digits
        }
        if digits.count <= decimalExponent {
            return sign + digits + String(repeating: "0", count: decimalExponent - digits.count) + ".0"
        }
        let split = digits.index(digits.startIndex, offsetBy: decimalExponent)
        return sign + digits[..<split] + "." + digits[split...]
    }

    /// `repr(str)`: single quotes unless the text has a single quote and no double quote; escapes
    /// for backslashes, the quote, `\t\n\r`, and characters Python does not consider printable.
    static func stringRepr(_ s: String) -> String {
        let scalars = s.unicodeScalars
        let quote: Unicode.Scalar = scalars.contains("'") && !scalars.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in scalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case quote: out += "\\" + String(quote)
            default:
                if isPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else {
                    let hex = String(scalar.value, radix: 16)
                    if scalar.value < 0x100 { out += "\\x" + String(repeating: "0", count: 2 - hex.count) + hex }
                    else if scalar.value < 0x10000 { out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex }
                    else { out += "\\U" + String(repeating: "0", count: 8 - hex.count) + hex }
                }
            }
        }
        out.unicodeScalars.append(quote)
        return out
    }

    /// Python's `str.isprintable()` for one character: not in the Other or Separator categories,
    /// except the ASCII space.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .spaceSeparator, .lineSeparator, .paragraphSeparator:
            return false
        default:
            return true
        }
    }

    // MARK: JSON

    /// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
    func json(_ value: Value, ensureASCII: Bool, indent: String?, itemSeparator: String?, keySeparator: String?,
              sortKeys: Bool) throws -> String {
        var out = ""
        let items = itemSeparator ?? (indent == nil ? ", " : ",")
        let keys = keySeparator ?? ": "
        try writeJSON(value, into: &out, level: 0, ensureASCII: ensureASCII, indent: indent, itemSeparator: items,
                      keySeparator: keys, sortKeys: sortKeys)
        return out
    }

    private func writeJSON(_ value: Value, into out: inout String, level: Int, ensureASCII: Bool, indent: String?,
                           itemSeparator: String, keySeparator: String, sortKeys: Bool) throws {
        try step()
        if level > limits.maximumNesting { throw TemplateError.limitExceeded(message: "a value nested too deeply for tojson") }
        try checkSize(out.utf8.count, "JSON text")
        func newline(_ level: Int) {
            if let indent { out += "\n" + String(repeating: indent, count: level) }
        }
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += Self.floatRepr(d) }
        case .string(let s): out += Self.jsonString(s, ensureASCII: ensureASCII)
        case .list(let items), .tuple(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += itemSeparator }
                newline(level + 1)
                try writeJSON(item, into: &out, level: level + 1, ensureASCII: ensureASCII, indent: indent,
                              itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys)
            }
            newline(level)
            out += "]"
        case .dict(let dict):
            if dict.isEmpty { out += "{}"; return }
            var pairs: [(String, Value)] = []
            for (key, member) in dict.items {
                let name: String
                switch key {
                case .string(let s): name = s
                case .none: name = "null"
                case .bool(let b): name = b ? "true" : "false"
                case .int(let i): name = String(i)
                case .double(let d): name = Self.floatRepr(d)
                default: throw TemplateError.render(message: "keys must be str, int, float, bool or None, not \(key.typeName)")
                }
                pairs.append((name, member))
            }
            if sortKeys {
                pairs.sort { a, b in a.0.unicodeScalars.lexicographicallyPrecedes(b.0.unicodeScalars) { $0.value < $1.value } }
            }
            out += "{"
            for (i, (name, member)) in pairs.enumerated() {
                if i > 0 { out += itemSeparator }
                newline(level + 1)
                out += Self.jsonString(name, ensureASCII: ensureASCII) + keySeparator
                try writeJSON(member, into: &out, level: level + 1, ensureASCII: ensureASCII, indent: indent,
                              itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys)
            }
            newline(level)
            out += "}"
        case .undefined(let hint):
            throw TemplateError.render(message: "Object of type Undefined is not JSON serializable (\(hint))")
        default:
            throw TemplateError.render(message: "Object of type \(value.typeName) is not JSON serializable")
        }
    }

    static func jsonString(_ s: String, ensureASCII: Bool) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value > 0x7E) {
                    func hex4(_ v: UInt32) -> String {
                        let h = String(v, radix: 16)
                        return "\\u" + String(repeating: "0", count: 4 - h.count) + h
                    }
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += hex4(scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Python's `str` methods on code points.
enum PythonString {
    static func strip(_ s: String, _ chars: String?, leading: Bool, trailing: Bool) -> String {
        let scalars = Array(s.unicodeScalars)
        let set = chars.map { Set($0.unicodeScalars) }
        func strippable(_ c: Unicode.Scalar) -> Bool { set?.contains(c) ?? c.isPythonWhitespace }
        var start = 0, end = scalars.count
        if leading { while start < end, strippable(scalars[start]) { start += 1 } }
        if trailing { while end > start, strippable(scalars[end - 1]) { end -= 1 } }
        return String(String.UnicodeScalarView(scalars[start..<end]))
    }

    /// `s.split(sep, maxsplit)`; without a separator, runs of whitespace split and edges are dropped.
    static func split(_ s: String, _ separator: String?, maxSplit: Int, fromRight: Bool = false) -> [String] {
        let scalars = Array(s.unicodeScalars)
        guard let separator else {
            var words: [String] = []
            var current = String.UnicodeScalarView()
            var splits = 0
            if fromRight {
                var i = scalars.count
                var pieces: [String] = []
                while i > 0 {
                    while i > 0, scalars[i - 1].isPythonWhitespace { i -= 1 }
                    if i == 0 { break }
                    if maxSplit >= 0 && splits == maxSplit {
                        pieces.append(String(String.UnicodeScalarView(scalars[0..<i])))
                        break
                    }
                    var j = i
                    while j > 0, !scalars[j - 1].isPythonWhitespace { j -= 1 }
                    pieces.append(String(String.UnicodeScalarView(scalars[j..<i])))
                    splits += 1
                    i = j
                }
                return pieces.reversed()
            }
            var i = 0
            while i < scalars.count {
                if scalars[i].isPythonWhitespace {
                    if !current.isEmpty {
                        words.append(String(current))
                        current = String.UnicodeScalarView()
                        splits += 1
                    }
                    i += 1
                    if maxSplit >= 0 && splits == maxSplit {
                        while i < scalars.count, scalars[i].isPythonWhitespace { i += 1 }
                        if i < scalars.count { words.append(String(String.UnicodeScalarView(scalars[i...]))) }
                        return words
                    }
                    continue
                }
                current.append(scalars[i])
                i += 1
            }
            if !current.isEmpty { words.append(String(current)) }
            return words
        }
        let sep = Array(separator.unicodeScalars)
        var pieces: [String] = []
        if fromRight {
            var end = scalars.count
            var i = scalars.count - sep.count
            while i >= 0 && (maxSplit < 0 || pieces.count < maxSplit) {
                if scalars[i..<(i + sep.count)].elementsEqual(sep) {
                    pieces.append(String(String.UnicodeScalarView(scalars[(i + sep.count)..<end])))
                    end = i
                    i -= sep.count
                } else {
                    i -= 1
                }
            }
            pieces.append(String(String.UnicodeScalarView(scalars[0..<end])))
            return pieces.reversed()
        }
        var start = 0
        var i = 0
        while i + sep.count <= scalars.count && (maxSplit < 0 || pieces.count < maxSplit) {
            if scalars[i..<(i + sep.count)].elementsEqual(sep) {
                pieces.append(String(String.UnicodeScalarView(scalars[start..<i])))
                i += sep.count
                start = i
            } else {
                i += 1
            }
        }
        pieces.append(String(String.UnicodeScalarView(scalars[start...])))
        return pieces
    }

    /// `s.splitlines(keepends)`: Python's line boundaries, not only `\n`.
    static func splitLines(_ s: String, keepEnds: Bool = false) -> [String] {
        let scalars = Array(s.unicodeScalars)
        var lines: [String] = []
        var start = 0, i = 0
        while i < scalars.count {
            let c = scalars[i]
            let isBreak: Bool
            switch c.value {
            case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029: isBreak = true
            default: isBreak = false
            }
            guard isBreak else { i += 1; continue }
            var end = i + 1
            if c == "\r", end < scalars.count, scalars[end] == "\n" { end += 1 }
            lines.append(String(String.UnicodeScalarView(scalars[start..<(keepEnds ? end : i)])))
            start = end
            i = end
        }
        if start < scalars.count { lines.append(String(String.UnicodeScalarView(scalars[start...]))) }
        return lines
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
        let scalars = Array(s.unicodeScalars), o = Array(old.unicodeScalars), n = new.unicodeScalars
        var out = String.UnicodeScalarView()
        var replaced = 0
        if o.isEmpty {
            // Python inserts `new` before every character and at the end.
            for scalar in scalars {
                if count < 0 || replaced < count { out.append(contentsOf: n); replaced += 1 }
                out.append(scalar)
            }
            if count < 0 || replaced < count { out.append(contentsOf: n) }
            return String(out)
        }
        var i = 0
        while i < scalars.count {
            if (count < 0 || replaced < count), i + o.count <= scalars.count, scalars[i..<(i + o.count)].elementsEqual(o) {
                out.append(contentsOf: n)
                i += o.count
                replaced += 1
            } else {
                out.append(scalars[i])
                i += 1
            }
        }
        return String(out)
    }

    static func hasPrefix(_ s: String, _ prefix: String) -> Bool {
        s.unicodeScalars.starts(with: prefix.unicodeScalars)
    }

    static func hasSuffix(_ s: String, _ suffix: String) -> Bool {
        s.unicodeScalars.reversed().starts(with: suffix.unicodeScalars.reversed())
    }

    static func upper(_ s: String) -> String { s.uppercased() }
    static func lower(_ s: String) -> String { s.lowercased() }

    private static func titlecased(_ scalar: Unicode.Scalar) -> String {
        scalar.properties.titlecaseMapping
    }

    private static func isCased(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isCased
    }

    /// `str.capitalize()`: the first character in title case, the rest lower case.
    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        return titlecased(first) + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
    }

    /// `str.title()`: a cased character after an uncased one starts a word.
    static func title(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for scalar in s.unicodeScalars {
            if isCased(scalar) {
                out += previousCased ? String(scalar).lowercased() : titlecased(scalar)
                previousCased = true
            } else {
                out.unicodeScalars.append(scalar)
                previousCased = false
            }
        }
        return out
    }

    /// Jinja's `title` filter: words start after `-`, whitespace or an opening bracket.
    static func jinjaTitle(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for scalar in s.unicodeScalars {
            let separator = scalar == "-" || scalar.isPythonWhitespace || "({[<".unicodeScalars.contains(scalar)
            if separator {
                out.unicodeScalars.append(scalar)
                atWordStart = true
            } else if atWordStart {
                out += String(scalar).uppercased()
                atWordStart = false
            } else {
                out += String(scalar).lowercased()
            }
        }
        return out
    }
}
