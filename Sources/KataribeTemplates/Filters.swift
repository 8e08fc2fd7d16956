import Foundation

/// Jinja's built-in filters and tests that chat templates use, with transformers' `tojson`.
/// Filters that Jinja makes lazy (`map`, `select`, `reverse`...) give lists here: iterating them,
/// `|list` and `|join` behave the same; only printing one without `|list` differs (Python shows a
/// generator object).
extension Interpreter {
    /// Binds positional and keyword arguments to a filter's parameter names, Python-style.
    private struct Parameters {
        var values: [String: Value] = [:]

        init(_ names: [String], _ positional: [Value], _ keywords: [(String, Value)], filter: String) throws {
            guard positional.count <= names.count else {
                throw TemplateError.render(message: "\(filter)() takes at most \(names.count) arguments (\(positional.count) given)")
            }
            for (name, value) in zip(names, positional) { values[name] = value }
            for (name, value) in keywords {
                guard names.contains(name) else {
                    throw TemplateError.render(message: "\(filter)() got an unexpected keyword argument '\(UntrustedQuote.text(name, limit: 40))'")
                }
                guard values[name] == nil else {
                    throw TemplateError.render(message: "\(filter)() got multiple values for argument '\(name)'")
                }
                values[name] = value
            }
        }

        subscript(_ name: String) -> Value? { values[name] }
    }

    private func bool(_ value: Value?) -> Bool { value?.truthy ?? false }

    /// Jinja's `ignore_case`: strings compare lower-cased unless the filter is told otherwise.
    private func ignoringCase(_ value: Value) -> Value {
        if case .string(let s) = value { return .string(s.lowercased()) }
        return value
    }

    /// `make_attrgetter`: `"a.b.0"` looked up item by item (digits as indices).
    private func attributeGetter(_ attribute: Value?) throws -> ((Value) throws -> Value)? {
        guard let attribute, !attribute.isNone else { return nil }
        let parts: [Value]
        switch attribute {
        case .string(let path):
            parts = PythonString.split(path, ".", maxSplit: -1).map { part in
                if !part.isEmpty, part.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }), let i = Int(part) { return .int(i) }
                return .string(part)
            }
        case .int: parts = [attribute]
        default:
            try failIfUndefined(attribute)
            throw TemplateError.render(message: "attribute must be a string or an integer")
        }
        return { [unowned self] item in
            var current = item
            for part in parts { current = try self.item(of: current, part) }
            return current
        }
    }

    private func sorted(_ items: [Value], reverse: Bool, key: (Value) throws -> Value) throws -> [Value] {
        let keyed = try items.map { (try key($0), $0) }
        try step(items.count * max(1, Int(log2(Double(max(items.count, 2))))))
        var failure: Error?
        let result = keyed.enumerated().sorted { a, b in
            if failure != nil { return false }
            do {
                guard let order = try ordering(a.element.0, b.element.0, depth: 0) else {
                    throw TemplateError.render(message: "'<' not supported between instances of '\(a.element.0.typeName)' and '\(b.element.0.typeName)'")
                }
                if order != 0 { return reverse ? order > 0 : order < 0 }
                return a.offset < b.offset  // Python's sort is stable
            } catch {
                failure = error
                return false
            }
        }
        if let failure { throw failure }
        return result.map(\.element.1)
    }

    func applyFilter(_ name: String, _ value: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        switch name {
        case "abs":
            switch value {
            case .int(let i):
                guard i != Int.min else { throw TemplateError.limitExceeded(message: "integer overflow") }
                return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default:
                try failIfUndefined(value)
                throw TemplateError.render(message: "bad operand type for abs(): '\(value.typeName)'")
            }
        case "attr":
            let p = try Parameters(["name"], positional, keywords, filter: name)
            guard case .string(let attribute)? = p["name"] else { throw TemplateError.render(message: "attr() needs an attribute name") }
            try failIfUndefined(value)
            if let method = try Self.method(on: value, named: attribute) { return method }
            switch value {
            case .namespace(let namespace): return namespace.attributes[string: attribute] ?? .undefined(hint: "no attribute '\(attribute)'")
            default: return .undefined(hint: "'\(Self.objectDescription(value))' has no attribute '\(UntrustedQuote.text(attribute, limit: 60))'")
            }
        case "capitalize":
            return .string(PythonString.capitalize(try str(value)))
        case "count", "length":
            switch value {
            case .undefined: return .int(0)
            case .string(let s): return .int(s.unicodeScalars.count)
            case .list(let items), .tuple(let items): return .int(items.count)
            case .dict(let dict): return .int(dict.count)
            case .loop(let loop): return .int(loop.items.count)
            default: throw TemplateError.render(message: "object of type '\(value.typeName)' has no len()")
            }
        case "d", "default":
            let p = try Parameters(["default_value", "boolean"], positional, keywords, filter: "default")
            if value.isUndefined || (bool(p["boolean"]) && !value.truthy) { return p["default_value"] ?? .string("") }
            return value
        case "dictsort":
            let p = try Parameters(["case_sensitive", "by", "reverse"], positional, keywords, filter: name)
            guard case .dict(let dict) = value else {
                try failIfUndefined(value)
                throw TemplateError.render(message: "'\(value.typeName)' object has no attribute 'items'")
            }
            let by: Int
            switch p["by"] {
            case nil, .string("key")?: by = 0
            case .string("value")?: by = 1
            default: throw TemplateError.render(message: "You can only sort by either \"key\" or \"value\"")
            }
            let caseSensitive = bool(p["case_sensitive"])
            let pairs = dict.items.map { Value.tuple([$0.0, $0.1]) }
            return .list(try sorted(pairs, reverse: bool(p["reverse"])) { pair in
                guard case .tuple(let kv) = pair else { return pair }
                return caseSensitive ? kv[by] : self.ignoringCase(kv[by])
            })
        case "e", "escape":
            if value.isUndefined { return .string("") }
            var out = ""
            for scalar in try str(value).unicodeScalars {
                switch scalar {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&#34;"
                case "'": out += "&#39;"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return .string(out)
        case "first":
            if case .dict(let dict) = value { return dict.keys.first ?? .undefined(hint: "No first item, sequence was empty.") }
            return try iterate(value).first ?? .undefined(hint: "No first item, sequence was empty.")
        case "last":
            if case .dict(let dict) = value { return dict.keys.last ?? .undefined(hint: "No last item, sequence was empty.") }
            try failIfUndefined(value)
            return try iterate(value).last ?? .undefined(hint: "No last item, sequence was empty.")
        case "float":
            let p = try Parameters(["default"], positional, keywords, filter: name)
            let fallback = p["default"] ?? .double(0)
            switch value {
            case .double: return value
            case .int(let i): return .double(Double(i))
            case .bool(let b): return .double(b ? 1 : 0)
            case .string(let s):
                let trimmed = PythonString.strip(s, nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
                if let d = Double(trimmed), !trimmed.isEmpty, trimmed.unicodeScalars.allSatisfy({ $0.isASCII }) { return .double(d) }
                return fallback
            default: return fallback
            }
        case "int":
            let p = try Parameters(["default", "base"], positional, keywords, filter: name)
            let fallback = p["default"] ?? .int(0)
            switch value {
            case .int: return value
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d):
                guard d.isFinite, let i = Int(exactly: d.rounded(.towardZero)) else { return fallback }
                return .int(i)
            case .string(let s):
                let base = Self.integer(p["base"] ?? .int(10)) ?? 10
                let trimmed = PythonString.strip(s, nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
                if let i = Int(trimmed, radix: base) { return .int(i) }
                if let d = Double(trimmed), d.isFinite, trimmed.unicodeScalars.allSatisfy({ $0.isASCII }),
                   let i = Int(exactly: d.rounded(.towardZero)) { return .int(i) }
                return fallback
            default: return fallback
            }
        case "indent":
            let p = try Parameters(["width", "first", "blank"], positional, keywords, filter: name)
            let indentation: String
            switch p["width"] {
            case nil: indentation = "    "
            case .string(let s)?: indentation = s
            case let width?:
                guard let n = Self.integer(width) else { throw TemplateError.render(message: "indent width must be an integer or a string") }
                indentation = String(repeating: " ", count: max(0, n))
            }
            let text = try str(value) + "\n"
            var result: String
            if bool(p["blank"]) {
                result = PythonString.splitLines(text).joined(separator: "\n" + indentation)
            } else {
                var lines = PythonString.splitLines(text)
                result = lines.isEmpty ? "" : lines.removeFirst()
                if !lines.isEmpty {
                    result += "\n" + lines.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
                }
            }
            if bool(p["first"]) { result = indentation + result }
            try checkSize(result.utf8.count, "string")
            return .string(result)
        case "items":
            switch value {
            case .undefined: return .list([])
            case .dict(let dict): return .list(dict.items.map { .tuple([$0.0, $0.1]) })
            default: throw TemplateError.render(message: "Can only get item pairs from a mapping.")
            }
        case "join":
            let p = try Parameters(["d", "attribute"], positional, keywords, filter: name)
            let separator = try p["d"].map { try str($0) } ?? ""
            var items = try iterate(value)
            if let getter = try attributeGetter(p["attribute"]) { items = try items.map(getter) }
            try step(items.count)
            let result = try items.map { try str($0) }.joined(separator: separator)
            try checkSize(result.utf8.count, "string")
            return .string(result)
        case "list":
            return .list(try iterate(value))
        case "lower":
            return .string(PythonString.lower(try str(value)))
        case "upper":
            return .string(PythonString.upper(try str(value)))
        case "map":
            guard value.truthy else { return .list([]) }
            let items = try iterate(value)
            try step(items.count)
            if positional.isEmpty, let attribute = keywords.first(where: { $0.0 == "attribute" })?.1 {
                let defaultValue = keywords.first { $0.0 == "default" }?.1
                if let unexpected = keywords.first(where: { $0.0 != "attribute" && $0.0 != "default" }) {
                    throw TemplateError.render(message: "Unexpected keyword argument '\(UntrustedQuote.text(unexpected.0, limit: 40))'")
                }
                guard let getter = try attributeGetter(attribute) else { return .list(items) }
                return .list(try items.map { item in
                    let found = try getter(item)
                    if let defaultValue, !defaultValue.isNone, found.isUndefined { return defaultValue }
                    return found
                })
            }
            guard case .string(let filter)? = positional.first else { throw TemplateError.render(message: "map requires a filter argument") }
            guard Parser.filters.contains(filter) else { throw TemplateError.render(message: "No filter named '\(UntrustedQuote.text(filter, limit: 40))'.") }
            let rest = Array(positional.dropFirst())
            return .list(try items.map { try applyFilter(filter, $0, rest, keywords) })
        case "max", "min":
            let p = try Parameters(["case_sensitive", "attribute"], positional, keywords, filter: name)
            let items = try iterate(value)
            guard !items.isEmpty else { return .undefined(hint: "No aggregated item, sequence was empty.") }
            let getter = try attributeGetter(p["attribute"])
            let caseSensitive = bool(p["case_sensitive"])
            let ordered = try sorted(items, reverse: false) { item in
                let key = try getter?(item) ?? item
                return caseSensitive ? key : self.ignoringCase(key)
            }
            // Python's max keeps the first of equal maxima; a stable ascending sort puts it first among them.
            if name == "min" { return ordered[0] }
            let keyOf: (Value) throws -> Value = { item in
                let key = try getter?(item) ?? item
                return caseSensitive ? key : self.ignoringCase(key)
            }
            let top = try keyOf(ordered[ordered.count - 1])
            for item in ordered where try equal(try keyOf(item), top) { return item }
            return ordered[ordered.count - 1]
        case "reject", "select", "rejectattr", "selectattr":
            guard value.truthy else { return .list([]) }
            let byAttribute = name.hasSuffix("attr")
            var arguments = positional
            var getter: ((Value) throws -> Value)?
            if byAttribute {
                guard !arguments.isEmpty else { throw TemplateError.render(message: "Missing parameter for attribute name") }
                getter = try attributeGetter(arguments.removeFirst())
            }
            var testName: String?
            if !arguments.isEmpty {
                guard case .string(let test) = arguments.removeFirst() else { throw TemplateError.render(message: "the test name must be a string") }
                guard Parser.tests.contains(test) else { throw TemplateError.render(message: "No test named '\(UntrustedQuote.text(test, limit: 40))'.") }
                testName = test
            }
            let keep = name.hasPrefix("select")
            var result: [Value] = []
            for item in try iterate(value) {
                try step()
                let subject = try getter?(item) ?? item
                let passed = try testName.map { try applyTest($0, subject, arguments, keywords) } ?? subject.truthy
                if passed == keep { result.append(item) }
            }
            return .list(result)
        case "replace":
            let p = try Parameters(["old", "new", "count"], positional, keywords, filter: name)
            guard let old = p["old"], let new = p["new"] else { throw TemplateError.render(message: "replace() missing required arguments") }
            let count = try p["count"].map { count -> Int in
                guard let n = Self.integer(count) else { throw TemplateError.render(message: "replace() count must be an integer") }
                return n
            } ?? -1
            let text = try str(value)
            try step(text.utf8.count / 64 + 1)
            let result = PythonString.replace(text, try str(old), try str(new), count: count)
            try checkSize(result.utf8.count, "string")
            return .string(result)
        case "reverse":
            if case .string(let s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            if case .dict(let dict) = value { return .list(dict.keys.reversed()) }
            try failIfUndefined(value)
            return .list(try iterate(value).reversed())
        case "round":
            let p = try Parameters(["precision", "method"], positional, keywords, filter: name)
            let precision = Self.integer(p["precision"] ?? .int(0)) ?? 0
            let method: String
            switch p["method"] {
            case nil: method = "common"
            case .string(let m)?: method = m
            default: method = ""
            }
            let number: Double
            switch value {
            case .int(let i): number = Double(i)
            case .bool(let b): number = b ? 1 : 0
            case .double(let d): number = d
            default:
                try failIfUndefined(value)
                throw TemplateError.render(message: "type \(value.typeName) doesn't define __round__ method")
            }
            let scale = Foundation.pow(10.0, Double(precision))
            switch method {
            case "common":
                // Python's round(): correctly rounded, ties to even, on the decimal digits.
                guard number.isFinite, (0...17).contains(precision) else { return .double(number) }
                return .double(Double(String(format: "%.\(precision)f", number)) ?? number)
            case "ceil": return .double((number * scale).rounded(.up) / scale)
            case "floor": return .double((number * scale).rounded(.down) / scale)
            default: throw TemplateError.render(message: "method must be common, ceil or floor")
            }
        case "safe", "string":
            return .string(try str(value))
        case "sort":
            let p = try Parameters(["reverse", "case_sensitive", "attribute"], positional, keywords, filter: name)
            let getter = try attributeGetter(p["attribute"])
            let caseSensitive = bool(p["case_sensitive"])
            return .list(try sorted(try iterate(value), reverse: bool(p["reverse"])) { item in
                let key = try getter?(item) ?? item
                return caseSensitive ? key : self.ignoringCase(key)
            })
        case "sum":
            let p = try Parameters(["attribute", "start"], positional, keywords, filter: name)
            var total = p["start"] ?? .int(0)
            let getter = try attributeGetter(p["attribute"])
            for item in try iterate(value) { total = try binary(.add, total, try getter?(item) ?? item) }
            return total
        case "title":
            return .string(PythonString.jinjaTitle(try str(value)))
        case "tojson":
            let p = try Parameters(["ensure_ascii", "indent", "separators", "sort_keys"], positional, keywords, filter: name)
            var indent: String?
            switch p["indent"] {
            case nil, .none?: indent = nil
            case .string(let s)?: indent = s
            case let width?:
                guard let n = Self.integer(width) else { throw TemplateError.render(message: "indent must be an integer or a string") }
                indent = String(repeating: " ", count: max(0, n))
            }
            var itemSeparator: String?, keySeparator: String?
            if let separators = p["separators"], !separators.isNone {
                let pair = try iterate(separators)
                guard pair.count == 2, case .string(let a) = pair[0], case .string(let b) = pair[1] else {
                    throw TemplateError.render(message: "separators must be a pair of strings")
                }
                (itemSeparator, keySeparator) = (a, b)
            }
            return .string(try json(value, ensureASCII: bool(p["ensure_ascii"]), indent: indent, itemSeparator: itemSeparator,
                                    keySeparator: keySeparator, sortKeys: bool(p["sort_keys"])))
        case "trim":
            let p = try Parameters(["chars"], positional, keywords, filter: name)
            let chars: String? = try p["chars"].flatMap { $0.isNone ? nil : try str($0) }
            return .string(PythonString.strip(try str(value), chars, leading: true, trailing: true))
        case "unique":
            let p = try Parameters(["case_sensitive", "attribute"], positional, keywords, filter: name)
            let getter = try attributeGetter(p["attribute"])
            let caseSensitive = bool(p["case_sensitive"])
            var seen: [Value] = []
            var result: [Value] = []
            for item in try iterate(value) {
                var key = try getter?(item) ?? item
                if !caseSensitive { key = ignoringCase(key) }
                if try !seen.contains(where: { try equal($0, key) }) {
                    seen.append(key)
                    result.append(item)
                }
            }
            return .list(result)
        case "wordcount":
            var count = 0, inWord = false
            for scalar in try str(value).unicodeScalars {
                let word = scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == "_"
                if word && !inWord { count += 1 }
                inWord = word
            }
            return .int(count)
        default:
            throw TemplateError.render(message: "No filter named '\(name)'.")
        }
    }

    func applyTest(_ name: String, _ value: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Bool {
        func other() throws -> Value {
            guard let argument = positional.first ?? keywords.first?.1 else {
                throw TemplateError.render(message: "the '\(name)' test needs an argument")
            }
            return argument
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.isNone
        case "boolean":
            if case .bool = value { return true }
            return false
        case "true":
            if case .bool(true) = value { return true }
            return false
        case "false":
            if case .bool(false) = value { return true }
            return false
        case "integer":
            if case .int = value { return true }
            return false
        case "float":
            if case .double = value { return true }
            return false
        case "number":
            switch value {
            case .int, .double, .bool: return true
            default: return false
            }
        case "string":
            if case .string = value { return true }
            return false
        case "mapping":
            if case .dict = value { return true }
            return false
        case "iterable":
            switch value {
            case .undefined, .string, .list, .tuple, .dict, .loop: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .undefined, .string, .list, .tuple, .dict: return true
            default: return false
            }
        case "callable":
            if case .callable = value { return true }
            return false
        case "escaped": return false
        case "filter":
            guard case .string(let filter) = try other() else { return false }
            return Parser.filters.contains(filter)
        case "test":
            guard case .string(let test) = try other() else { return false }
            return Parser.tests.contains(test)
        case "sameas":
            let b = try other()
            switch (value, b) {
            case (.none, .none): return true
            case let (.bool(x), .bool(y)): return x == y
            case let (.namespace(x), .namespace(y)): return x === y
            case let (.callable(x), .callable(y)): return x === y
            case let (.int(x), .int(y)): return x == y && (-5...256).contains(x)  // CPython's small-int cache
            default: return false
            }
        case "eq", "equalto", "==": return try equal(value, try other())
        case "ne", "!=": return try !equal(value, try other())
        case "lt", "lessthan", "<": return try compare(.lt, value, try other())
        case "le", "<=": return try compare(.le, value, try other())
        case "gt", "greaterthan", ">": return try compare(.gt, value, try other())
        case "ge", ">=": return try compare(.ge, value, try other())
        case "in": return try contains(try other(), value)
        case "divisibleby":
            let divisor = try other()
            guard case .int = try binary(.modulo, value, divisor) else {
                return try equal(try binary(.modulo, value, divisor), .int(0))
            }
            return try equal(try binary(.modulo, value, divisor), .int(0))
        case "odd", "even":
            guard let i = Self.integer(value) else {
                try failIfUndefined(value)
                throw TemplateError.render(message: "unsupported operand type(s) for %: '\(value.typeName)' and 'int'")
            }
            return (i % 2 != 0) == (name == "odd")
        case "lower", "upper":
            let s = try str(value)
            return name == "lower" ? PythonString.lower(s) == s : PythonString.upper(s) == s
        default:
            throw TemplateError.render(message: "No test named '\(name)'.")
        }
    }
}
