/// A backtracking regular-expression engine for the Oniguruma (Ruby syntax) subset that tokenizer
/// files use, matching over Unicode scalars. `tokenizers` compiles `Split`/`Replace` patterns with
/// Oniguruma; Swift's `Regex` lacks look-behind (llm-jp uses `(?<!\n)^`) and has different anchor
/// semantics, so patterns are interpreted here with Oniguruma's rules:
/// `^`/`$` are line anchors, `.` excludes "\n", `\s`/`\d`/`\w`/`\p{...}` are Unicode-aware,
/// alternation is leftmost-first, and `(?m)` makes `.` match "\n".
/// Unsupported constructs (back-references, scripts in `\p{...}`, `(?x)`, ...) are load errors.
struct OnigRegex: Sendable {
    let pattern: String
    let root: RegexNode

    init(_ pattern: String) throws(TokenizerError) {
        self.pattern = pattern
        var parser = RegexParser(pattern: pattern)
        root = try parser.parse()
    }

    /// Matches in the order the `onig` crate's `find_iter` yields them, as byte ranges of `bytes`
    /// (valid UTF-8), including its rule for empty matches.
    func findMatches(in bytes: [UInt8]) -> [Range<Int>] {
        let scalars = UTF8Bytes.scalars(bytes)
        var byteOffsets = [Int](repeating: 0, count: scalars.count + 1)
        var offset = 0
        for (i, scalar) in scalars.enumerated() {
            byteOffsets[i] = offset
            offset += scalar < 0x80 ? 1 : scalar < 0x800 ? 2 : scalar < 0x10000 ? 3 : 4
        }
        byteOffsets[scalars.count] = offset
        let matcher = RegexMatcher(text: scalars)
        var result: [Range<Int>] = []
        var lastEnd = 0
        var skipNextEmpty = false
        while lastEnd <= scalars.count {
            guard let (start, end) = matcher.search(root, from: lastEnd) else { break }
            lastEnd = end
            if start == end {
                lastEnd += 1
                if skipNextEmpty {
                    skipNextEmpty = false
                    continue
                }
            } else {
                skipNextEmpty = true
            }
            result.append(byteOffsets[start]..<byteOffsets[end])
        }
        return result
    }
}

indirect enum RegexNode: Sendable {
    case empty
    case scalar(UInt32, caseInsensitive: Bool)
    case set(ScalarSet)
    case sequence([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int?, greedy: Bool, possessive: Bool)
    case atomic(RegexNode)
    case lookahead(RegexNode, negative: Bool)
    case lookbehind(RegexNode, negative: Bool, minLength: Int, maxLength: Int)
    case anchor(Anchor)

    enum Anchor: Sendable {
        case lineStart, lineEnd, textStart, textEnd, textEndBeforeNewline, wordBoundary, notWordBoundary
    }

    /// Bounds on the number of scalars the node can match (max nil when unbounded).
    var lengthBounds: (min: Int, max: Int?) {
        switch self {
        case .empty, .anchor, .lookahead, .lookbehind: return (0, 0)
        case .scalar, .set: return (1, 1)
        case let .sequence(items):
            var low = 0
            var high: Int? = 0
            for item in items {
                let bounds = item.lengthBounds
                low += bounds.min
                if let h = high, let m = bounds.max { high = h + m } else { high = nil }
            }
            return (low, high)
        case let .alternation(items):
            var low = Int.max
            var high: Int? = 0
            for item in items {
                let bounds = item.lengthBounds
                low = min(low, bounds.min)
                if let h = high, let m = bounds.max { high = max(h, m) } else { high = nil }
            }
            return (items.isEmpty ? 0 : low, high)
        case let .repetition(node, min, max, _, _):
            let bounds = node.lengthBounds
            let high: Int?
            if let max, let m = bounds.max { high = max * m } else if bounds.max == 0 { high = 0 } else { high = nil }
            return (bounds.min * min, high)
        case let .atomic(node): return node.lengthBounds
        }
    }
}

/// A set of scalars: explicit ranges and named classes, possibly negated.
struct ScalarSet: Sendable {
    enum Item: Sendable {
        case range(UInt32, UInt32)
        case category(ClassPredicate)
        case nested(ScalarSet)
    }

    var items: [Item] = []
    var negated = false
    var caseInsensitive = false

    func contains(_ scalar: UInt32) -> Bool {
        var found = matches(scalar)
        if !found && caseInsensitive {
            for variant in caseVariants(scalar) where matches(variant) {
                found = true
                break
            }
        }
        return found != negated
    }

    private func matches(_ scalar: UInt32) -> Bool {
        for item in items {
            switch item {
            case let .range(low, high): if scalar >= low && scalar <= high { return true }
            case let .category(predicate): if predicate.contains(scalar) { return true }
            case let .nested(set): if set.contains(scalar) { return true }
            }
        }
        return false
    }
}

/// Named character classes: `\s`, `\d`, `\w`, `\h`, `.`, `\p{...}`, POSIX brackets.
enum ClassPredicate: Sendable {
    case whitespace, digit, word, hexDigit, anyButNewline, any
    case generalCategories(Set<UInt8>)
    case alphabetic, uppercase, lowercase, ascii
    /// A Unicode script (flattened inclusive ranges, sorted).
    case script([UInt32])
    indirect case not(ClassPredicate)

    func contains(_ scalar: UInt32) -> Bool {
        switch self {
        case .whitespace: return UnicodeProperties.isWhitespace(scalar)
        case .digit: return UnicodeProperties.isDecimalDigit(scalar)
        case .word: return UnicodeProperties.isOnigurumaWord(scalar)
        case .hexDigit:
            return (0x30...0x39).contains(scalar) || (0x41...0x46).contains(scalar) || (0x61...0x66).contains(scalar)
        case .anyButNewline: return scalar != 0x0A
        case .any: return true
        case let .generalCategories(categories): return categories.contains(UnicodeProperties.category(scalar).rawValue)
        case .alphabetic: return Unicode.Scalar(scalar)?.properties.isAlphabetic ?? false
        case .uppercase: return Unicode.Scalar(scalar)?.properties.isUppercase ?? false
        case .lowercase: return Unicode.Scalar(scalar)?.properties.isLowercase ?? false
        case .ascii: return scalar < 0x80
        case let .script(ranges):
            var low = 0, high = ranges.count / 2
            while low < high {
                let mid = (low + high) / 2
                if ranges[2 * mid + 1] < scalar { low = mid + 1 } else { high = mid }
            }
            return low < ranges.count / 2 && ranges[2 * low] <= scalar
        case let .not(inner): return !inner.contains(scalar)
        }
    }
}

/// Simple case variants of a scalar (its lower- and uppercase single-scalar mappings).
func caseVariants(_ scalar: UInt32) -> [UInt32] {
    guard let value = Unicode.Scalar(scalar) else { return [] }
    var result: [UInt32] = []
    for mapping in [value.properties.lowercaseMapping, value.properties.uppercaseMapping, value.properties.titlecaseMapping] {
        let scalars = Array(mapping.unicodeScalars)
        if scalars.count == 1, scalars[0].value != scalar, !result.contains(scalars[0].value) {
            result.append(scalars[0].value)
        }
    }
    return result
}

private final class DepthCounter {
    var value = 0
}

private struct RegexMatcher {
    let text: [UInt32]
    private let depth = DepthCounter()
    /// Recursion guard: patterns that would recurse deeper than this fail to match instead of
    /// overflowing the stack on hostile input.
    static let maximumDepth = 4000

    func search(_ root: RegexNode, from start: Int) -> (Int, Int)? {
        var position = start
        while position <= text.count {
            var end = -1
            if match(root, position, { e in end = e; return true }) { return (position, end) }
            position += 1
        }
        return nil
    }

    private func isWord(_ index: Int) -> Bool {
        index >= 0 && index < text.count && UnicodeProperties.isOnigurumaWord(text[index])
    }

    private func matchesOne(_ node: RegexNode, _ index: Int) -> Bool {
        guard index < text.count else { return false }
        switch node {
        case let .scalar(value, caseInsensitive):
            let scalar = text[index]
            if scalar == value { return true }
            return caseInsensitive && caseVariants(value).contains(scalar)
        case let .set(set):
            return set.contains(text[index])
        default:
            return false
        }
    }

    private func isSingleScalar(_ node: RegexNode) -> Bool {
        switch node {
        case .scalar, .set: return true
        default: return false
        }
    }

    func match(_ node: RegexNode, _ i: Int, _ k: (Int) -> Bool) -> Bool {
        depth.value += 1
        defer { depth.value -= 1 }
        if depth.value > Self.maximumDepth { return false }
        switch node {
        case .empty:
            return k(i)
        case .scalar, .set:
            return matchesOne(node, i) && k(i + 1)
        case let .sequence(items):
            return matchSequence(items, 0, i, k)
        case let .alternation(items):
            for item in items where match(item, i, k) { return true }
            return false
        case let .repetition(inner, min, max, greedy, possessive):
            if isSingleScalar(inner) {
                var count = 0
                let limit = max ?? Int.max
                while count < limit && matchesOne(inner, i + count) { count += 1 }
                if count < min { return false }
                if possessive { return k(i + count) }
                if greedy {
                    var c = count
                    while c >= min {
                        if k(i + c) { return true }
                        c -= 1
                    }
                    return false
                }
                for c in min...count where k(i + c) { return true }
                return false
            }
            if possessive {
                var end = -1
                guard repeatGeneral(inner, min, max, true, 0, i, { e in end = e; return true }) else { return false }
                return k(end)
            }
            return repeatGeneral(inner, min, max, greedy, 0, i, k)
        case let .atomic(inner):
            var end = -1
            guard match(inner, i, { e in end = e; return true }) else { return false }
            return k(end)
        case let .lookahead(inner, negative):
            let found = match(inner, i) { _ in true }
            return found != negative && k(i)
        case let .lookbehind(inner, negative, minLength, maxLength):
            var found = false
            var length = minLength
            while length <= maxLength && !found {
                let start = i - length
                if start >= 0 { found = match(inner, start) { e in e == i } }
                length += 1
            }
            return found != negative && k(i)
        case let .anchor(anchor):
            let ok: Bool
            switch anchor {
            // Like Ruby, `^` does not match at the very end after a final newline.
            case .lineStart: ok = i == 0 || (text[i - 1] == 0x0A && i < text.count)
            case .lineEnd: ok = i == text.count || text[i] == 0x0A
            case .textStart: ok = i == 0
            case .textEnd: ok = i == text.count
            case .textEndBeforeNewline: ok = i == text.count || (i == text.count - 1 && text[i] == 0x0A)
            case .wordBoundary: ok = isWord(i - 1) != isWord(i)
            case .notWordBoundary: ok = isWord(i - 1) == isWord(i)
            }
            return ok && k(i)
        }
    }

    private func matchSequence(_ items: [RegexNode], _ index: Int, _ i: Int, _ k: (Int) -> Bool) -> Bool {
        if index == items.count { return k(i) }
        // Runs of single scalars need no backtracking points of their own.
        var position = i
        var next = index
        while next < items.count, isSingleScalar(items[next]) {
            guard matchesOne(items[next], position) else { return false }
            position += 1
            next += 1
        }
        if next == items.count { return k(position) }
        if next > index { return matchSequence(items, next, position, k) }
        return match(items[index], i) { j in matchSequence(items, index + 1, j, k) }
    }

    private func repeatGeneral(_ inner: RegexNode, _ min: Int, _ max: Int?, _ greedy: Bool, _ count: Int, _ i: Int,
                               _ k: (Int) -> Bool) -> Bool {
        let canRepeat = max.map { count < $0 } ?? true
        if greedy {
            if canRepeat {
                let matched = match(inner, i) { j in
                    // An iteration that consumed nothing ends the loop (Oniguruma's empty check).
                    if j == i { return false }
                    return repeatGeneral(inner, min, max, greedy, count + 1, j, k)
                }
                if matched { return true }
            }
            return count >= min && k(i)
        }
        if count >= min && k(i) { return true }
        guard canRepeat else { return false }
        return match(inner, i) { j in
            if j == i { return false }
            return repeatGeneral(inner, min, max, greedy, count + 1, j, k)
        }
    }
}
