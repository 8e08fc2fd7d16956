/// Parses Oniguruma (Ruby syntax) patterns into `RegexNode`s. See `OnigRegex` for the subset.
struct RegexParser {
    private let pattern: String
    private let scalars: [UInt32]
    private var position = 0
    private var caseInsensitive = false
    private var dotMatchesNewline = false
    /// Groups open around the current position. The parser recurses once per group, so a pattern
    /// from a hostile tokenizer.json with 100,000 '(' would overflow the stack; real patterns nest
    /// a handful deep (Oniguruma's own limit is 4096, more than a thread's stack allows here).
    private var groupDepth = 0
    static let maximumGroupDepth = 1000

    init(pattern: String) {
        self.pattern = pattern
        scalars = pattern.unicodeScalars.map(\.value)
    }

    mutating func parse() throws(TokenizerError) -> RegexNode {
        let node = try parseAlternation()
        guard position == scalars.count else { throw error("unbalanced ')'") }
        return node
    }

    private func error(_ reason: String) -> TokenizerError {
        .invalidRegex(pattern: pattern, reason: "\(reason) (at character \(position))")
    }

    private var atEnd: Bool { position >= scalars.count }
    private func peek(_ offset: Int = 0) -> UInt32? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    private mutating func parseAlternation() throws(TokenizerError) -> RegexNode {
        groupDepth += 1
        defer { groupDepth -= 1 }
        guard groupDepth <= Self.maximumGroupDepth else { throw error("groups nested deeper than \(Self.maximumGroupDepth)") }
        // Inline flags like (?i) last until the end of the enclosing group.
        let savedCase = caseInsensitive, savedDot = dotMatchesNewline
        defer { caseInsensitive = savedCase; dotMatchesNewline = savedDot }
        var branches: [RegexNode] = [try parseSequence()]
        while peek() == 0x7C {  // |
            position += 1
            branches.append(try parseSequence())
        }
        if branches.count == 1 { return branches[0] }
        // Alternatives that each match one scalar form a set, which repeats without recursion.
        var union = ScalarSet()
        var caseFlags = Set<Bool>()
        for branch in branches {
            switch branch {
            case let .scalar(value, caseInsensitive):
                union.items.append(.range(value, value))
                caseFlags.insert(caseInsensitive)
            case let .set(set):
                union.items.append(.nested(set))
                caseFlags.insert(false)
            default:
                return .alternation(branches)
            }
        }
        guard caseFlags.count == 1, let flag = caseFlags.first else { return .alternation(branches) }
        union.caseInsensitive = flag
        return .set(union)
    }

    private mutating func parseSequence() throws(TokenizerError) -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek(), c != 0x7C, c != 0x29 {  // | )
            guard let atom = try parseAtom() else { continue }
            items.append(try parseQuantifiers(atom))
        }
        if items.isEmpty { return .empty }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    private mutating func parseQuantifiers(_ atom: RegexNode) throws(TokenizerError) -> RegexNode {
        var node = atom
        while let c = peek() {
            var min = 0
            var max: Int?
            switch c {
            case 0x2A: min = 0; max = nil; position += 1  // *
            case 0x2B: min = 1; max = nil; position += 1  // +
            case 0x3F: min = 0; max = 1; position += 1  // ?
            case 0x7B:  // {
                guard let (low, high, length) = parseBraces() else { return node }
                min = low; max = high; position += length
            default:
                return node
            }
            if case .anchor = node { throw error("target of repeat operator is invalid") }
            if case .lookahead = node { throw error("target of repeat operator is invalid") }
            if case .lookbehind = node { throw error("target of repeat operator is invalid") }
            var greedy = true, possessive = false
            if peek() == 0x3F { greedy = false; position += 1 } else if peek() == 0x2B, c != 0x7B { possessive = true; position += 1 }
            if let max, max < min { throw error("upper bound of repetition below lower bound") }
            node = .repetition(node, min: min, max: max, greedy: greedy, possessive: possessive)
        }
        return node
    }

    /// `{n}`, `{n,}`, `{n,m}`, `{,m}`; nil when the brace is a literal.
    private func parseBraces() -> (Int, Int?, Int)? {
        var index = position + 1
        func number() -> Int? {
            var value: Int?
            while index < scalars.count, (0x30...0x39).contains(scalars[index]) {
                value = (value ?? 0) * 10 + Int(scalars[index] - 0x30)
                if value! > 100_000 { return nil }
                index += 1
            }
            return value
        }
        let low = number()
        if index < scalars.count, scalars[index] == 0x7D {
            guard let low else { return nil }
            return (low, low, index + 1 - position)
        }
        guard index < scalars.count, scalars[index] == 0x2C else { return nil }
        index += 1
        let high = number()
        guard index < scalars.count, scalars[index] == 0x7D else { return nil }
        if low == nil && high == nil { return nil }
        return (low ?? 0, high, index + 1 - position)
    }

    private mutating func parseAtom() throws(TokenizerError) -> RegexNode? {
        guard let c = peek() else { return nil }
        switch c {
        case 0x28: return try parseGroup()
        case 0x5B:
            position += 1
            var set = try parseClass()
            set.caseInsensitive = caseInsensitive
            return .set(set)
        case 0x2E:
            position += 1
            return .set(ScalarSet(items: [.category(dotMatchesNewline ? .any : .anyButNewline)]))
        case 0x5E: position += 1; return .anchor(.lineStart)
        case 0x24: position += 1; return .anchor(.lineEnd)
        case 0x5C: return try parseEscape()
        case 0x2A, 0x2B, 0x3F: throw error("target of repeat operator is not specified")
        default:
            position += 1
            return .scalar(c, caseInsensitive: caseInsensitive)
        }
    }

    private mutating func parseGroup() throws(TokenizerError) -> RegexNode? {
        position += 1  // (
        if peek() == 0x3F {  // ?
            position += 1
            guard let kind = peek() else { throw error("unterminated group") }
            switch kind {
            case 0x3A: position += 1; return try finishGroup { $0 }  // (?:
            case 0x3D: position += 1; return try finishGroup { .lookahead($0, negative: false) }
            case 0x21: position += 1; return try finishGroup { .lookahead($0, negative: true) }
            case 0x3E: position += 1; return try finishGroup { .atomic($0) }
            case 0x3C:  // (?<= (?<! or (?<name>
                if peek(1) == 0x3D || peek(1) == 0x21 {
                    let negative = peek(1) == 0x21
                    position += 2
                    let inner = try parseAlternation()
                    guard peek() == 0x29 else { throw error("unterminated look-behind") }
                    position += 1
                    let bounds = inner.lengthBounds
                    guard let maxLength = bounds.max else { throw error("look-behind of unbounded length") }
                    return .lookbehind(inner, negative: negative, minLength: bounds.min, maxLength: maxLength)
                }
                position += 1
                while let c = peek(), c != 0x3E { position += 1 }
                guard peek() == 0x3E else { throw error("unterminated group name") }
                position += 1
                return try finishGroup { $0 }
            case 0x23:  // (?# comment )
                while let c = peek(), c != 0x29 { position += 1 }
                guard peek() == 0x29 else { throw error("unterminated comment") }
                position += 1
                return nil
            default:
                return try parseFlags()
            }
        }
        return try finishGroup { $0 }
    }

    private mutating func finishGroup(_ wrap: (RegexNode) -> RegexNode) throws(TokenizerError) -> RegexNode {
        let inner = try parseAlternation()
        guard peek() == 0x29 else { throw error("missing ')'") }
        position += 1
        return wrap(inner)
    }

    /// `(?imx-imx)` or `(?imx-imx:...)`.
    private mutating func parseFlags() throws(TokenizerError) -> RegexNode? {
        var enable = true
        var newCase = caseInsensitive, newDot = dotMatchesNewline
        while let c = peek() {
            switch c {
            case 0x2D: enable = false  // -
            case 0x69: newCase = enable  // i
            case 0x6D: newDot = enable  // m (Ruby: dot matches newline)
            case 0x29:  // ) -- applies to the rest of the enclosing group
                position += 1
                caseInsensitive = newCase
                dotMatchesNewline = newDot
                return nil
            case 0x3A:  // : -- scoped group
                position += 1
                let savedCase = caseInsensitive, savedDot = dotMatchesNewline
                caseInsensitive = newCase
                dotMatchesNewline = newDot
                let inner = try parseAlternation()
                caseInsensitive = savedCase
                dotMatchesNewline = savedDot
                guard peek() == 0x29 else { throw error("missing ')'") }
                position += 1
                return inner
            default:
                throw error("unsupported group option '\(String(UnicodeScalar(c) ?? "?"))'")
            }
            position += 1
        }
        throw error("unterminated group options")
    }

    private mutating func parseEscape() throws(TokenizerError) -> RegexNode {
        position += 1  // backslash
        guard let c = peek() else { throw error("trailing backslash") }
        position += 1
        switch c {
        case 0x41: return .anchor(.textStart)  // \A
        case 0x7A: return .anchor(.textEnd)  // \z
        case 0x5A: return .anchor(.textEndBeforeNewline)  // \Z
        case 0x62: return .anchor(.wordBoundary)  // \b
        case 0x42: return .anchor(.notWordBoundary)  // \B
        default:
            position -= 1
            switch try parseClassEscape() {
            case let .scalar(value): return .scalar(value, caseInsensitive: caseInsensitive)
            case let .predicate(predicate):
                return .set(ScalarSet(items: [.category(predicate)]))
            }
        }
    }

    private enum EscapeResult {
        case scalar(UInt32)
        case predicate(ClassPredicate)
    }

    /// An escape valid both inside and outside classes; `position` is at the escaped character.
    private mutating func parseClassEscape() throws(TokenizerError) -> EscapeResult {
        guard let c = peek() else { throw error("trailing backslash") }
        position += 1
        switch c {
        case 0x73: return .predicate(.whitespace)  // \s
        case 0x53: return .predicate(.not(.whitespace))
        case 0x64: return .predicate(.digit)  // \d
        case 0x44: return .predicate(.not(.digit))
        case 0x77: return .predicate(.word)  // \w
        case 0x57: return .predicate(.not(.word))
        case 0x68: return .predicate(.hexDigit)  // \h (Oniguruma: hex digit)
        case 0x48: return .predicate(.not(.hexDigit))
        case 0x70, 0x50: return .predicate(try parseProperty(negated: c == 0x50))  // \p \P
        case 0x6E: return .scalar(0x0A)
        case 0x74: return .scalar(0x09)
        case 0x72: return .scalar(0x0D)
        case 0x66: return .scalar(0x0C)
        case 0x76: return .scalar(0x0B)
        case 0x61: return .scalar(0x07)
        case 0x65: return .scalar(0x1B)
        case 0x30: return .scalar(0)
        case 0x78:  // \xHH or \x{H...}
            if peek() == 0x7B {
                position += 1
                let value = try parseHex(maxDigits: 8, terminator: 0x7D)
                return .scalar(value)
            }
            return .scalar(try parseHex(maxDigits: 2, terminator: nil))
        case 0x75: return .scalar(try parseHex(maxDigits: 4, terminator: nil, exact: true))  // \uHHHH
        case 0x31...0x39, 0x6B, 0x67: throw error("back-references and subexpression calls are not supported")
        case 0x47, 0x4B, 0x52, 0x58, 0x4E, 0x4F, 0x79, 0x59:
            throw error("unsupported escape \\\(String(UnicodeScalar(c) ?? "?"))")
        default:
            if (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) {
                throw error("unknown escape \\\(String(UnicodeScalar(c) ?? "?"))")
            }
            return .scalar(c)
        }
    }

    private mutating func parseHex(maxDigits: Int, terminator: UInt32?, exact: Bool = false) throws(TokenizerError) -> UInt32 {
        var value: UInt32 = 0
        var digits = 0
        while digits < maxDigits, let c = peek() {
            let digit: UInt32
            switch c {
            case 0x30...0x39: digit = c - 0x30
            case 0x41...0x46: digit = c - 0x41 + 10
            case 0x61...0x66: digit = c - 0x61 + 10
            default: digit = 0xFF
            }
            if digit == 0xFF { break }
            value = value << 4 | digit
            digits += 1
            position += 1
        }
        if let terminator {
            guard peek() == terminator else { throw error("invalid hex escape") }
            position += 1
        }
        guard digits > 0, !exact || digits == maxDigits else { throw error("invalid hex escape") }
        guard value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else { throw error("invalid code point") }
        return value
    }

    private mutating func parseProperty(negated: Bool) throws(TokenizerError) -> ClassPredicate {
        var name = ""
        var negate = negated
        if peek() == 0x7B {
            position += 1
            if peek() == 0x5E { negate.toggle(); position += 1 }
            while let c = peek(), c != 0x7D {
                name.unicodeScalars.append(UnicodeScalar(c) ?? "?")
                position += 1
            }
            guard peek() == 0x7D else { throw error("unterminated property name") }
            position += 1
        } else if let c = peek() {
            name.unicodeScalars.append(UnicodeScalar(c) ?? "?")
            position += 1
        }
        guard let predicate = Self.property(named: name) else { throw error("unsupported property \\p{\(name)}") }
        return negate ? .not(predicate) : predicate
    }

    static func property(named rawName: String) -> ClassPredicate? {
        let name = String(String.UnicodeScalarView(rawName.lowercased().unicodeScalars.filter { $0 != "_" && $0 != " " && $0 != "-" }))
        typealias C = UnicodeProperties.Category
        func cats(_ list: [C]) -> ClassPredicate { .generalCategories(Set(list.map(\.rawValue))) }
        switch name {
        case "l", "letter": return cats([.lu, .ll, .lt, .lm, .lo])
        case "lu", "uppercaseletter": return cats([.lu])
        case "ll", "lowercaseletter": return cats([.ll])
        case "lt", "titlecaseletter": return cats([.lt])
        case "lm", "modifierletter": return cats([.lm])
        case "lo", "otherletter": return cats([.lo])
        case "lc", "casedletter": return cats([.lu, .ll, .lt])
        case "m", "mark", "combiningmark": return cats([.mn, .mc, .me])
        case "mn", "nonspacingmark": return cats([.mn])
        case "mc", "spacingmark": return cats([.mc])
        case "me", "enclosingmark": return cats([.me])
        case "n", "number": return cats([.nd, .nl, .no])
        case "nd", "decimalnumber", "digit": return cats([.nd])
        case "nl", "letternumber": return cats([.nl])
        case "no", "othernumber": return cats([.no])
        case "p", "punctuation", "punct": return cats([.pc, .pd, .ps, .pe, .pi, .pf, .po])
        case "pc", "connectorpunctuation": return cats([.pc])
        case "pd", "dashpunctuation": return cats([.pd])
        case "ps", "openpunctuation": return cats([.ps])
        case "pe", "closepunctuation": return cats([.pe])
        case "pi", "initialpunctuation": return cats([.pi])
        case "pf", "finalpunctuation": return cats([.pf])
        case "po", "otherpunctuation": return cats([.po])
        case "s", "symbol": return cats([.sm, .sc, .sk, .so])
        case "sm", "mathsymbol": return cats([.sm])
        case "sc", "currencysymbol": return cats([.sc])
        case "sk", "modifiersymbol": return cats([.sk])
        case "so", "othersymbol": return cats([.so])
        case "z", "separator": return cats([.zs, .zl, .zp])
        case "zs", "spaceseparator": return cats([.zs])
        case "zl", "lineseparator": return cats([.zl])
        case "zp", "paragraphseparator": return cats([.zp])
        case "c", "other": return cats([.cc, .cf, .cs, .co, .cn])
        case "cc", "control", "cntrl": return cats([.cc])
        case "cf", "format": return cats([.cf])
        case "co", "privateuse": return cats([.co])
        case "cn", "unassigned": return cats([.cn])
        case "any": return .any
        case "ascii": return .ascii
        case "alpha", "alphabetic": return .alphabetic
        case "upper", "uppercase": return .uppercase
        case "lower", "lowercase": return .lowercase
        case "space", "whitespace": return .whitespace
        case "word": return .word
        case "alnum": return .not(.not(.word))
        case "xdigit": return .hexDigit
        default:
            let scriptName = name.hasPrefix("script=") ? String(name.dropFirst(7)) : name.hasPrefix("sc=") ? String(name.dropFirst(3)) : name
            return UnicodeScriptTables.ranges[scriptName].map { .script($0) }
        }
    }

    /// Parses a bracket class; `position` is just after '['.
    private mutating func parseClass() throws(TokenizerError) -> ScalarSet {
        var set = ScalarSet()
        if peek() == 0x5E { set.negated = true; position += 1 }
        var first = true
        while true {
            guard let c = peek() else { throw error("premature end of character class") }
            if c == 0x5D && !first { position += 1; break }  // ]
            first = false
            if c == 0x5B {  // [ : POSIX bracket or nested class
                if peek(1) == 0x3A, let posix = try parsePosixBracket() {
                    set.items.append(.category(posix))
                    continue
                }
                position += 1
                var nested = try parseClass()
                nested.caseInsensitive = caseInsensitive
                set.items.append(.nested(nested))
                continue
            }
            if c == 0x26 && peek(1) == 0x26 { throw error("character class intersection is not supported") }
            let low: UInt32
            if c == 0x5C {
                position += 1
                switch try parseClassEscape() {
                case let .predicate(predicate):
                    set.items.append(.category(predicate))
                    continue
                case let .scalar(value):
                    low = value
                }
            } else {
                position += 1
                low = c
            }
            // Range?
            if peek() == 0x2D, let next = peek(1), next != 0x5D {
                position += 1
                let high: UInt32
                if next == 0x5C {
                    position += 1
                    guard case let .scalar(value) = try parseClassEscape() else { throw error("invalid range in class") }
                    high = value
                } else {
                    position += 1
                    high = next
                }
                guard low <= high else { throw error("empty range in character class") }
                set.items.append(.range(low, high))
            } else {
                set.items.append(.range(low, low))
            }
        }
        return set
    }

    /// `[:alpha:]` and friends; nil (position unchanged) when the text is not a POSIX bracket.
    private mutating func parsePosixBracket() throws(TokenizerError) -> ClassPredicate? {
        var index = position + 2
        var negate = false
        if index < scalars.count, scalars[index] == 0x5E { negate = true; index += 1 }
        var name = ""
        while index < scalars.count, (0x61...0x7A).contains(scalars[index]) {
            name.unicodeScalars.append(UnicodeScalar(scalars[index])!)
            index += 1
        }
        guard index + 1 < scalars.count, scalars[index] == 0x3A, scalars[index + 1] == 0x5D else { return nil }
        let predicate: ClassPredicate
        switch name {
        case "alpha": predicate = .alphabetic
        case "digit": predicate = .digit
        case "alnum": predicate = .word
        case "space": predicate = .whitespace
        case "upper": predicate = .uppercase
        case "lower": predicate = .lowercase
        case "punct": predicate = Self.property(named: "P")!
        case "cntrl": predicate = Self.property(named: "Cc")!
        case "xdigit": predicate = .hexDigit
        case "word": predicate = .word
        case "ascii": predicate = .ascii
        default: throw error("unsupported POSIX bracket [:\(name):]")
        }
        position = index + 2
        return negate ? .not(predicate) : predicate
    }
}
