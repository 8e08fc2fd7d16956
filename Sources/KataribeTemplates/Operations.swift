import Foundation

/// Python's operators as the sandboxed Jinja environment applies them.
extension Interpreter {
    // MARK: attributes and items

    /// `Python's type(x).__name__ + " object"` as Jinja words it in "has no attribute" messages.
    static func objectDescription(_ value: Value) -> String {
        value.isNone ? "None" : "\(value.typeName) object"
    }

    /// `obj.name`: the sandbox tries the attribute first (so `d.items` is the method even when `d` has
    /// an "items" key), then the item.
    func attribute(of object: Value, _ name: String) throws -> Value {
        try failIfUndefined(object)
        if let method = try Self.method(on: object, named: name) { return method }
        switch object {
        case .dict(let dict):
            if let value = dict[string: name] { return value }
        case .namespace(let namespace):
            if let value = namespace.attributes[string: name] { return value }
        case .loop(let loop):
            if let value = loopAttribute(loop, name) { return value }
        default: break
        }
        return .undefined(hint: "'\(Self.objectDescription(object))' has no attribute '\(UntrustedQuote.text(name, limit: 60))'")
    }

    /// `obj[key]`: the item first, then (for a string key) the attribute.
    func item(of object: Value, _ key: Value) throws -> Value {
        try failIfUndefined(object)
        switch object {
        case .list(let items), .tuple(let items):
            if let i = Self.integer(key) {
                let index = i < 0 ? i + items.count : i
                if index >= 0 && index < items.count { return items[index] }
                return .undefined(hint: "'\(Self.objectDescription(object))' has no element \(i)")
            }
        case .string(let s):
            if let i = Self.integer(key) {
                let scalars = Array(s.unicodeScalars)
                let index = i < 0 ? i + scalars.count : i
                if index >= 0 && index < scalars.count { return .string(String(scalars[index])) }
                return .undefined(hint: "'str object' has no element \(i)")
            }
        case .dict(let dict):
            if let value = dict[key] { return value }
        default: break
        }
        if case .string(let name) = key {
            if let method = try Self.method(on: object, named: name) { return method }
            switch object {
            case .namespace(let namespace):
                if let value = namespace.attributes[string: name] { return value }
            case .loop(let loop):
                if let value = loopAttribute(loop, name) { return value }
            default: break
            }
            return .undefined(hint: "'\(Self.objectDescription(object))' has no attribute '\(UntrustedQuote.text(name, limit: 60))'")
        }
        return .undefined(hint: "'\(Self.objectDescription(object))' has no element \(try repr(key))")
    }

    static func integer(_ value: Value) -> Int? {
        switch value {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    private func loopAttribute(_ loop: LoopState, _ name: String) -> Value? {
        let count = loop.items.count, i = loop.index0
        switch name {
        case "index": return .int(i + 1)
        case "index0": return .int(i)
        case "revindex": return .int(count - i)
        case "revindex0": return .int(count - i - 1)
        case "first": return .bool(i == 0)
        case "last": return .bool(i == count - 1)
        case "length": return .int(count)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return i > 0 ? loop.items[i - 1] : .undefined(hint: "there is no previous item")
        case "nextitem": return i + 1 < count ? loop.items[i + 1] : .undefined(hint: "there is no next item")
        default: return nil
        }
    }

    /// Python's slice of a list, tuple or string (`messages[1:]`, `messages[::-1]`).
    func slice(_ object: Value, _ start: Value?, _ stop: Value?, _ stride: Value?) throws -> Value {
        try failIfUndefined(object)
        func bound(_ value: Value?) throws -> Int? {
            guard let value, !value.isNone else { return nil }
            if let i = Self.integer(value) { return i }
            try failIfUndefined(value)
            throw TemplateError.render(message: "slice indices must be integers or None or have an __index__ method")
        }
        let step = try bound(stride) ?? 1
        guard step != 0 else { throw TemplateError.render(message: "slice step cannot be zero") }
        func indices(_ count: Int) throws -> [Int] {
            func clamp(_ value: Int?, _ defaultValue: Int) -> Int {
                guard var v = value else { return defaultValue }
                if v < 0 { v += count }
                if step > 0 { return min(max(v, 0), count) }
                return min(max(v, -1), count - 1)
            }
            let lower = clamp(try bound(start), step > 0 ? 0 : count - 1)
            let upper = clamp(try bound(stop), step > 0 ? count : -1)
            var result: [Int] = []
            var i = lower
            while step > 0 ? i < upper : i > upper {
                result.append(i)
                i += step
            }
            try self.step(result.count)
            return result
        }
        switch object {
        case .list(let items): return .list(try indices(items.count).map { items[$0] })
        case .tuple(let items): return .tuple(try indices(items.count).map { items[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        default:
            return .undefined(hint: "'\(Self.objectDescription(object))' cannot be sliced")
        }
    }

    // MARK: arithmetic

    private enum Number {
        case int(Int), double(Double)
        var double: Double {
            switch self {
            case .int(let i): return Double(i)
            case .double(let d): return d
            }
        }
    }

    private static func number(_ value: Value) -> Number? {
        switch value {
        case .int(let i): return .int(i)
        case .bool(let b): return .int(b ? 1 : 0)
        case .double(let d): return .double(d)
        default: return nil
        }
    }

    func negate(_ value: Value) throws -> Value {
        switch Self.number(value) {
        case .int(let i)?:
            guard i != Int.min else { throw TemplateError.limitExceeded(message: "integer overflow") }
            return .int(-i)
        case .double(let d)?: return .double(-d)
        case nil:
            try failIfUndefined(value)
            throw TemplateError.render(message: "bad operand type for unary -: '\(value.typeName)'")
        }
    }

    private func overflow() -> TemplateError {
        .limitExceeded(message: "integer overflow (Python integers are unbounded; this interpreter stops at 64 bits)")
    }

    private func unsupported(_ op: String, _ left: Value, _ right: Value) -> TemplateError {
        .render(message: "unsupported operand type(s) for \(op): '\(left.typeName)' and '\(right.typeName)'")
    }

    func binary(_ op: BinaryOperator, _ left: Value, _ right: Value) throws -> Value {
        if op == .concat {
            let text = try str(left) + str(right)
            try checkSize(text.utf8.count, "string")
            return .string(text)
        }
        try failIfUndefined(left)
        try failIfUndefined(right)
        if let l = Self.number(left), let r = Self.number(right) {
            return try arithmetic(op, l, r)
        }
        switch (op, left, right) {
        case let (.add, .string(a), .string(b)):
            try checkSize(a.utf8.count + b.utf8.count, "string")
            return .string(a + b)
        case let (.add, .list(a), .list(b)):
            try checkSize(a.count + b.count, "list")
            try step(a.count + b.count)
            return .list(a + b)
        case let (.add, .tuple(a), .tuple(b)):
            try checkSize(a.count + b.count, "tuple")
            try step(a.count + b.count)
            return .tuple(a + b)
        case (.add, .string, _):
            throw TemplateError.render(message: "can only concatenate str (not \"\(right.typeName)\") to str")
        case (.add, .list, _):
            throw TemplateError.render(message: "can only concatenate list (not \"\(right.typeName)\") to list")
        case (.multiply, _, _):
            return try repeated(left, right)
        case (.modulo, .string(let format), _):
            return .string(try printf(format, right))
        default:
            throw unsupported(op.rawValue, left, right)
        }
    }

    private func repeated(_ left: Value, _ right: Value) throws -> Value {
        let (sequence, times): (Value, Int)
        if let n = Self.integer(right) { (sequence, times) = (left, n) }
        else if let n = Self.integer(left) { (sequence, times) = (right, n) }
        else { throw unsupported("*", left, right) }
        let n = max(times, 0)
        switch sequence {
        case .string(let s):
            let (total, overflow) = s.utf8.count.multipliedReportingOverflow(by: n)
            try checkSize(overflow ? Int.max : total, "string")
            try step(total / 64)
            return .string(String(repeating: s, count: n))
        case .list(let items), .tuple(let items):
            let (total, overflow) = items.count.multipliedReportingOverflow(by: n)
            try checkSize(overflow ? Int.max : total, "list")
            try step(total)
            let out = Array([[Value]](repeating: items, count: n).joined())
            if case .tuple = sequence { return .tuple(out) }
            return .list(out)
        default:
            throw TemplateError.render(message: "can't multiply sequence by non-int of type '\(right.typeName)'")
        }
    }

    private func arithmetic(_ op: BinaryOperator, _ l: Number, _ r: Number) throws -> Value {
        if case .int(let a) = l, case .int(let b) = r {
            switch op {
            case .add:
                let (v, o) = a.addingReportingOverflow(b)
                if o { throw overflow() }
                return .int(v)
            case .subtract:
                let (v, o) = a.subtractingReportingOverflow(b)
                if o { throw overflow() }
                return .int(v)
            case .multiply:
                let (v, o) = a.multipliedReportingOverflow(by: b)
                if o { throw overflow() }
                return .int(v)
            case .divide:
                guard b != 0 else { throw TemplateError.render(message: "division by zero") }
                return .double(Double(a) / Double(b))
            case .floorDivide:
                guard b != 0 else { throw TemplateError.render(message: "integer division or modulo by zero") }
                if a == Int.min && b == -1 { throw overflow() }
                let q = a / b
                return .int((a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q)
            case .modulo:
                guard b != 0 else { throw TemplateError.render(message: "integer modulo by zero") }
                if b == -1 { return .int(0) }
                let m = a % b
                return .int(m != 0 && (m < 0) != (b < 0) ? m + b : m)
            case .power:
                if b < 0 {
                    guard a != 0 else { throw TemplateError.render(message: "0.0 cannot be raised to a negative power") }
                    return .double(Foundation.pow(Double(a), Double(b)))
                }
                var result = 1, base = a, exponent = b
                while exponent > 0 {
                    if exponent & 1 == 1 {
                        let (v, o) = result.multipliedReportingOverflow(by: base)
                        if o { throw overflow() }
                        result = v
                    }
                    exponent >>= 1
                    if exponent > 0 {
                        let (v, o) = base.multipliedReportingOverflow(by: base)
                        if o { throw overflow() }
                        base = v
                    }
                }
                return .int(result)
            case .concat:
                fatalError("handled by binary(_:_:_:)")
            }
        }
        let a = l.double, b = r.double
        switch op {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .divide:
            guard b != 0 else { throw TemplateError.render(message: "float division by zero") }
            return .double(a / b)
        case .floorDivide:
            guard b != 0 else { throw TemplateError.render(message: "float floor division by zero") }
            return .double(Self.pythonFloatMod(a, b).quotient)
        case .modulo:
            guard b != 0 else { throw TemplateError.render(message: "float modulo") }
            return .double(Self.pythonFloatMod(a, b).remainder)
        case .power:
            if a == 0 && b < 0 { throw TemplateError.render(message: "0.0 cannot be raised to a negative power") }
            if a < 0 && b.rounded() != b { throw TemplateError.render(message: "complex results are not supported") }
            return .double(Foundation.pow(a, b))
        case .concat:
            fatalError("handled by binary(_:_:_:)")
        }
    }

    /// CPython's `float_divmod`.
    private static func pythonFloatMod(_ a: Double, _ b: Double) -> (quotient: Double, remainder: Double) {
        var mod = fmod(a, b)
        var div = (a - mod) / b
        if mod != 0 {
            if (b < 0) != (mod < 0) {
                mod += b
                div -= 1
            }
        } else {
            mod = Double(signOf: b, magnitudeOf: 0)
        }
        var floordiv: Double
        if div != 0 {
            floordiv = div.rounded(.down)
            if div - floordiv > 0.5 { floordiv += 1 }
        } else {
            floordiv = Double(signOf: a / b, magnitudeOf: 0)
        }
        return (floordiv, mod)
    }

    /// Python's `format % values` for the conversions templates use: `%s %r %d %i %f %x %X %%`, with
    /// `-`/`0` flags, a width and a precision. `%(name)s` and `*` widths are refused.
    func printf(_ format: String, _ values: Value) throws -> String {
        var arguments: [Value]
        if case .tuple(let items) = values { arguments = items } else { arguments = [values] }
        let scalars = Array(format.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func fail(_ message: String) -> TemplateError { .render(message: message) }
        while i < scalars.count {
            guard scalars[i] == "%" else { out.append(scalars[i]); i += 1; continue }
            i += 1
            var leftAlign = false, zeroPad = false
            while i < scalars.count, scalars[i] == "-" || scalars[i] == "0" || scalars[i] == " " || scalars[i] == "+" {
                if scalars[i] == "-" { leftAlign = true }
                if scalars[i] == "0" { zeroPad = true }
                i += 1
            }
            var width = 0
            while i < scalars.count, ("0"..."9").contains(scalars[i]) { width = min(width * 10 + Int(scalars[i].value - 48), 10_000); i += 1 }
            var precision: Int?
            if i < scalars.count, scalars[i] == "." {
                i += 1
                var p = 0
                while i < scalars.count, ("0"..."9").contains(scalars[i]) { p = min(p * 10 + Int(scalars[i].value - 48), 100); i += 1 }
                precision = p
            }
            guard i < scalars.count else { throw fail("incomplete format") }
            let conversion = scalars[i]
            i += 1
            if conversion == "%" { out.append("%"); continue }
            if conversion == "(" || conversion == "*" { throw fail("'%(name)' and '*' in % formats are not supported") }
            guard !arguments.isEmpty else { throw fail("not enough arguments for format string") }
            let argument = arguments.removeFirst()
            var text: String
            switch conversion {
            case "s": text = try str(argument)
            case "r": text = try repr(argument)
            case "d", "i":
                switch argument {
                case .int(let n): text = String(n)
                case .bool(let b): text = b ? "1" : "0"
                case .double(let d) where d.isFinite: text = String(Int(d.rounded(.towardZero)))
                default: throw fail("%\(conversion) format: a real number is required, not \(argument.typeName)")
                }
            case "f", "F":
                let number: Double
                switch argument {
                case .int(let n): number = Double(n)
                case .bool(let b): number = b ? 1 : 0
                case .double(let d): number = d
                default: throw fail("must be real number, not \(argument.typeName)")
                }
                text = String(format: "%.\(precision ?? 6)f", number)
            case "x", "X":
                guard let n = Self.integer(argument) else { throw fail("%x format: an integer is required, not \(argument.typeName)") }
                text = (n < 0 ? "-" : "") + String(n.magnitude, radix: 16, uppercase: conversion == "X")
            default:
                throw fail("unsupported format character '\(conversion.escaped(asASCII: true))'")
            }
            if let precision, conversion == "s" || conversion == "r" {
                text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(precision)))
            }
            let length = text.unicodeScalars.count
            if width > length {
                let padding = String(repeating: zeroPad && !leftAlign && conversion != "s" && conversion != "r" ? "0" : " ", count: width - length)
                if leftAlign { text += padding }
                else if padding.first == "0", text.hasPrefix("-") { text = "-" + padding + text.dropFirst() }
                else { text = padding + text }
            }
            out.append(contentsOf: text.unicodeScalars)
            try checkSize(out.count, "string")
        }
        if !arguments.isEmpty { throw fail("not all arguments converted during string formatting") }
        return String(out)
    }

    // MARK: comparisons

    func compare(_ op: CompareOperator, _ left: Value, _ right: Value) throws -> Bool {
        switch op {
        case .eq: return try equal(left, right)
        case .ne: return try !equal(left, right)
        case .in: return try contains(right, left)
        case .notIn: return try !contains(right, left)
        case .lt, .le, .gt, .ge:
            try failIfUndefined(left)
            try failIfUndefined(right)
            guard let order = try ordering(left, right, depth: 0) else {
                throw TemplateError.render(message: "'\(op.rawValue)' not supported between instances of '\(left.typeName)' and '\(right.typeName)'")
            }
            switch op {
            case .lt: return order < 0
            case .le: return order <= 0
            case .gt: return order > 0
            default: return order >= 0
            }
        }
    }

    /// `needle in haystack`.
    func contains(_ haystack: Value, _ needle: Value) throws -> Bool {
        switch haystack {
        case .undefined: return false
        case .string(let s):
            guard case .string(let n) = needle else {
                try failIfUndefined(needle)
                throw TemplateError.render(message: "'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            try step(s.utf8.count / 64)
            return Self.find(Array(n.unicodeScalars), in: Array(s.unicodeScalars), from: 0) != nil
        case .list(let items), .tuple(let items):
            for item in items {
                if try equal(item, needle) { return true }
            }
            return false
        case .dict(let dict):
            guard DictKey(needle) != nil else { throw TemplateError.render(message: "unhashable type: '\(needle.typeName)'") }
            return dict[needle] != nil
        default:
            throw TemplateError.render(message: "argument of type '\(haystack.typeName)' is not iterable")
        }
    }

    static func find(_ needle: [Unicode.Scalar], in haystack: [Unicode.Scalar], from start: Int) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        if needle.isEmpty { return start <= haystack.count ? start : nil }
        var i = start
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// Python's `==`: numbers across int/float/bool, strings by code point, containers item by item.
    func equal(_ left: Value, _ right: Value, depth: Int = 0) throws -> Bool {
        try step()
        if depth > limits.maximumNesting { throw TemplateError.limitExceeded(message: "values nested too deeply to compare") }
        if let l = Self.number(left), let r = Self.number(right) {
            switch (l, r) {
            case let (.int(a), .int(b)): return a == b
            default: return l.double == r.double
            }
        }
        switch (left, right) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(a), .string(b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) {
                if try !equal(x, y, depth: depth + 1) { return false }
            }
            return true
        case let (.dict(a), .dict(b)):
            guard a.count == b.count else { return false }
            for (key, value) in a.items {
                guard let other = b[key], try equal(value, other, depth: depth + 1) else { return false }
            }
            return true
        case let (.namespace(a), .namespace(b)): return a === b
        case let (.callable(a), .callable(b)): return a === b
        case let (.loop(a), .loop(b)): return a === b
        default: return false
        }
    }

    /// Python's ordering where it is defined (numbers, strings, lists, tuples); nil where Python raises.
    func ordering(_ left: Value, _ right: Value, depth: Int) throws -> Int? {
        try step()
        if depth > limits.maximumNesting { throw TemplateError.limitExceeded(message: "values nested too deeply to compare") }
        if let l = Self.number(left), let r = Self.number(right) {
            switch (l, r) {
            case let (.int(a), .int(b)): return a < b ? -1 : a > b ? 1 : 0
            default:
                let a = l.double, b = r.double
                return a < b ? -1 : a > b ? 1 : 0
            }
        }
        switch (left, right) {
        case let (.string(a), .string(b)):
            var ia = a.unicodeScalars.makeIterator(), ib = b.unicodeScalars.makeIterator()
            while true {
                switch (ia.next(), ib.next()) {
                case (nil, nil): return 0
                case (nil, _): return -1
                case (_, nil): return 1
                case let (x?, y?): if x != y { return x.value < y.value ? -1 : 1 }
                }
            }
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)):
            for (x, y) in zip(a, b) {
                if try !equal(x, y, depth: depth + 1) { return try ordering(x, y, depth: depth + 1) }
            }
            return a.count < b.count ? -1 : a.count > b.count ? 1 : 0
        default:
            return nil
        }
    }
}
