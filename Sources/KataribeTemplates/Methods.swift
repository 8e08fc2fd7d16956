/// The Python methods templates call on values (`content.strip()`, `message.get('x')`,
/// `d.items()`, `loop.cycle(...)`). The sandbox is immutable, so methods that change a list or dict
/// are unsafe there and fail when called, as Jinja's `ImmutableSandboxedEnvironment` makes them.
extension Interpreter {
    static let stringMethods: Set<String> = [
        "capitalize", "count", "endswith", "find", "index", "isalnum", "isalpha", "isdigit", "islower", "isspace",
        "isupper", "join", "lower", "lstrip", "replace", "rfind", "rsplit", "rstrip", "split", "splitlines",
        "startswith", "strip", "title", "upper",
    ]
    static let dictMethods: Set<String> = ["get", "items", "keys", "values", "copy"]
    static let dictUnsafeMethods: Set<String> = ["clear", "pop", "popitem", "setdefault", "update"]
    static let listMethods: Set<String> = ["count", "index", "copy"]
    static let listUnsafeMethods: Set<String> = ["append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"]

    /// The bound method `object.name`, nil when `object` has no such method.
    static func method(on object: Value, named name: String) throws -> Value? {
        let known: Bool
        switch object {
        case .string: known = stringMethods.contains(name)
        case .dict:
            if dictUnsafeMethods.contains(name) { return unsafe(name, object) }
            known = dictMethods.contains(name)
        case .list:
            if listUnsafeMethods.contains(name) { return unsafe(name, object) }
            known = listMethods.contains(name)
        case .tuple: known = name == "count" || name == "index"
        case .loop: known = name == "cycle"
        default: known = false
        }
        return known ? .callable(Callable(.method(receiver: object, name: name))) : nil
    }

    private static func unsafe(_ name: String, _ object: Value) -> Value {
        .undefined(hint: "access to attribute '\(name)' of '\(object.typeName)' object is unsafe.")
    }

    func callMethod(_ receiver: Value, _ name: String, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        var arguments = positional
        let keywordNames: [String: [String]] = [
            "split": ["sep", "maxsplit"], "rsplit": ["sep", "maxsplit"], "splitlines": ["keepends"],
            "get": ["key", "default"], "replace": ["old", "new", "count"],
        ]
        for (key, value) in keywords {
            guard let order = keywordNames[name], let i = order.firstIndex(of: key) else {
                throw TemplateError.render(message: "\(name)() takes no keyword argument '\(UntrustedQuote.text(key, limit: 40))'")
            }
            while arguments.count < i { arguments.append(.none) }
            if arguments.count == i { arguments.append(value) } else { arguments[i] = value }
        }
        func argument(_ i: Int) -> Value? { i < arguments.count ? arguments[i] : nil }
        func string(_ i: Int, _ what: String) throws -> String? {
            guard let value = argument(i) else { return nil }
            if value.isNone { return nil }
            guard case .string(let s) = value else {
                try failIfUndefined(value)
                throw TemplateError.render(message: "\(what) arg must be None or str, not \(value.typeName)")
            }
            return s
        }
        func int(_ i: Int, default defaultValue: Int) throws -> Int {
            guard let value = argument(i) else { return defaultValue }
            guard let n = Self.integer(value) else {
                try failIfUndefined(value)
                throw TemplateError.render(message: "'\(value.typeName)' object cannot be interpreted as an integer")
            }
            return n
        }

        switch receiver {
        case .string(let s):
            try step(s.utf8.count / 64 + 1)
            switch name {
            case "strip", "lstrip", "rstrip":
                let chars = try string(0, name)
                return .string(PythonString.strip(s, chars, leading: name != "rstrip", trailing: name != "lstrip"))
            case "split", "rsplit":
                let separator = try string(0, name)
                if separator?.isEmpty == true { throw TemplateError.render(message: "empty separator") }
                let pieces = PythonString.split(s, separator, maxSplit: try int(1, default: -1), fromRight: name == "rsplit")
                return .list(pieces.map(Value.string))
            case "splitlines":
                return .list(PythonString.splitLines(s, keepEnds: argument(0)?.truthy ?? false).map(Value.string))
            case "startswith", "endswith":
                guard let prefixArgument = argument(0) else { throw TemplateError.render(message: "\(name)() takes at least 1 argument (0 given)") }
                let candidates: [Value]
                if case .tuple(let items) = prefixArgument { candidates = items } else { candidates = [prefixArgument] }
                for candidate in candidates {
                    guard case .string(let affix) = candidate else {
                        try failIfUndefined(candidate)
                        throw TemplateError.render(message: "\(name) first arg must be str or a tuple of str, not \(candidate.typeName)")
                    }
                    if name == "startswith" ? PythonString.hasPrefix(s, affix) : PythonString.hasSuffix(s, affix) { return .true }
                }
                return .false
            case "upper": return .string(PythonString.upper(s))
            case "lower": return .string(PythonString.lower(s))
            case "title": return .string(PythonString.title(s))
            case "capitalize": return .string(PythonString.capitalize(s))
            case "replace":
                guard let old = try string(0, name), let new = try string(1, name) else {
                    throw TemplateError.render(message: "replace() takes at least 2 arguments")
                }
                let result = PythonString.replace(s, old, new, count: try int(2, default: -1))
                try checkSize(result.utf8.count, "string")
                return .string(result)
            case "find", "rfind", "index":
                guard let needle = try string(0, name) else { throw TemplateError.render(message: "\(name)() takes at least 1 argument") }
                let hay = Array(s.unicodeScalars), n = Array(needle.unicodeScalars)
                var found: Int?
                if name == "rfind" {
                    var i = hay.count - n.count
                    while i >= 0 {
                        if hay[i..<(i + n.count)].elementsEqual(n) { found = i; break }
                        i -= 1
                    }
                } else {
                    found = Self.find(n, in: hay, from: 0)
                }
                if found == nil && name == "index" { throw TemplateError.render(message: "substring not found") }
                return .int(found ?? -1)
            case "count":
                guard let needle = try string(0, name) else { throw TemplateError.render(message: "count() takes at least 1 argument") }
                let hay = Array(s.unicodeScalars), n = Array(needle.unicodeScalars)
                if n.isEmpty { return .int(hay.count + 1) }
                var count = 0, i = 0
                while let at = Self.find(n, in: hay, from: i) { count += 1; i = at + n.count }
                return .int(count)
            case "join":
                guard let items = argument(0) else { throw TemplateError.render(message: "join() takes exactly one argument (0 given)") }
                var parts: [String] = []
                for (i, item) in try iterate(items).enumerated() {
                    guard case .string(let part) = item else {
                        throw TemplateError.render(message: "sequence item \(i): expected str instance, \(item.typeName) found")
                    }
                    parts.append(part)
                }
                let result = parts.joined(separator: s)
                try checkSize(result.utf8.count, "string")
                return .string(result)
            case "isdigit": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil && $0.properties.numericType != .numeric })
            case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
            case "isalnum": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
            case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(\.isPythonWhitespace))
            case "islower":
                let cased = s.unicodeScalars.filter { $0.properties.isCased }
                return .bool(!cased.isEmpty && cased.allSatisfy { $0.properties.isLowercase })
            case "isupper":
                let cased = s.unicodeScalars.filter { $0.properties.isCased }
                return .bool(!cased.isEmpty && cased.allSatisfy { $0.properties.isUppercase })
            default: break
            }
        case .dict(let dict):
            switch name {
            case "get":
                guard let key = argument(0) else { throw TemplateError.render(message: "get expected at least 1 argument, got 0") }
                guard DictKey(key) != nil else { throw TemplateError.render(message: "unhashable type: '\(key.typeName)'") }
                return dict[key] ?? argument(1) ?? .none
            case "items": return .list(dict.items.map { .tuple([$0.0, $0.1]) })
            case "keys": return .list(dict.keys)
            case "values": return .list(dict.values)
            case "copy": return receiver
            default: break
            }
        case .list(let items), .tuple(let items):
            switch name {
            case "copy": return receiver
            case "count":
                guard let needle = argument(0) else { throw TemplateError.render(message: "count() takes exactly one argument (0 given)") }
                var count = 0
                for item in items where try equal(item, needle) { count += 1 }
                return .int(count)
            case "index":
                guard let needle = argument(0) else { throw TemplateError.render(message: "index expected at least 1 argument, got 0") }
                for (i, item) in items.enumerated() where try equal(item, needle) { return .int(i) }
                throw TemplateError.render(message: "\(try repr(needle)) is not in list")
            default: break
            }
        case .loop(let loop):
            if name == "cycle" {
                guard !arguments.isEmpty else { throw TemplateError.render(message: "no items for cycling given") }
                return arguments[loop.index0 % arguments.count]
            }
        default: break
        }
        throw TemplateError.render(message: "'\(receiver.typeName)' object has no attribute '\(name)'")
    }
}
