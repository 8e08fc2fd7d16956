/// What a caller hands a template: the JSON-shaped data transformers passes to `render`
/// (`messages`, `add_generation_prompt`, special tokens, `tools`...). Objects keep their key order,
/// because `tojson` and `{% for k, v in d.items() %}` show keys in insertion order, as Python dicts do.
public enum TemplateValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    /// Key order is kept; a repeated key keeps its first position and takes the last value (a Python dict literal).
    case object([(String, TemplateValue)])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .none }

    public static func == (lhs: TemplateValue, rhs: TemplateValue) -> Bool {
        switch (lhs, rhs) {
        case (.none, .none): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.string(a), .string(b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0.unicodeScalars.elementsEqual($1.0.unicodeScalars) && $0.1 == $1.1 }
        default: return false
        }
    }
}

/// A value while a template runs: Python's types as Jinja sees them, plus Jinja's own (undefined,
/// namespaces, macros, the loop object).
enum Value {
    /// A name or key that is not there; `hint` names it in errors ("'x' is undefined").
    case undefined(hint: String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    case tuple([Value])
    case dict(OrderedDict)
    /// `namespace(...)`: the one mutable object templates have, shared by reference so that
    /// `{% set ns.x = ... %}` inside a loop is seen after it.
    case namespace(Namespace)
    case callable(Callable)
    case loop(LoopState)

    static var `true`: Value { .bool(true) }
    static var `false`: Value { .bool(false) }

    init(_ value: TemplateValue) {
        switch value {
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(items.map(Value.init))
        case .object(let members):
            var dict = OrderedDict()
            for (key, member) in members { dict.set(.string(key), Value(member)) }
            self = .dict(dict)
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    var isNone: Bool {
        if case .none = self { return true }
        return false
    }

    /// Python's `type(x).__name__`, for error messages worded like Python's.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .callable: return "function"
        case .loop: return "LoopContext"
        }
    }

    /// Python's truth value (`if x`, `not x`, `and`/`or`); undefined is false.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let items), .tuple(let items): return !items.isEmpty
        case .dict(let dict): return !dict.isEmpty
        case .namespace, .callable, .loop: return true
        }
    }
}

/// A Python dict: insertion-ordered, keyed by hashable scalars with Python's equality (so `1`,
/// `1.0` and `true` are one key, and strings compare by code point, not by canonical equivalence).
struct OrderedDict {
    private(set) var keys: [Value] = []
    private(set) var values: [Value] = []
    private var index: [DictKey: Int] = [:]

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }

    subscript(key: Value) -> Value? {
        guard let k = DictKey(key), let i = index[k] else { return nil }
        return values[i]
    }

    subscript(string key: String) -> Value? { self[.string(key)] }

    /// False when the key is not hashable (a list, a dict...), as Python's TypeError.
    @discardableResult
    mutating func set(_ key: Value, _ value: Value) -> Bool {
        guard let k = DictKey(key) else { return false }
        if let i = index[k] {
            values[i] = value
        } else {
            index[k] = keys.count
            keys.append(key)
            values.append(value)
        }
        return true
    }

    var items: [(Value, Value)] { Array(zip(keys, values)) }
}

/// The hashable face of a dict key. Strings hash their UTF-8 bytes: Swift's `String` hashing merges
/// canonically equivalent strings, Python's does not.
enum DictKey: Hashable {
    case none
    case number(Int)
    case double(UInt64)
    case string([UInt8])
    case tuple([DictKey])

    init?(_ value: Value) {
        switch value {
        case .none: self = .none
        case .bool(let b): self = .number(b ? 1 : 0)
        case .int(let i): self = .number(i)
        case .double(let d):
            if d.rounded() == d, let i = Int(exactly: d) { self = .number(i) } else { self = .double(d.bitPattern) }
        case .string(let s): self = .string(Array(s.utf8))
        case .tuple(let items):
            var keys: [DictKey] = []
            for item in items {
                guard let key = DictKey(item) else { return nil }
                keys.append(key)
            }
            self = .tuple(keys)
        default: return nil
        }
    }
}

/// `namespace(...)`: attributes in assignment order (its repr lists them so).
final class Namespace {
    var attributes = OrderedDict()
    init() {}
}

/// The `loop` variable of one `{% for %}`.
final class LoopState {
    let items: [Value]
    var index0 = 0
    init(items: [Value]) { self.items = items }
}

/// Something a template can call: a macro, a global function, or a bound method of a value.
final class Callable {
    enum Kind {
        case macro(Macro)
        case builtin(String)
        /// A method looked up on a value (`s.strip`, `d.items`, `loop.cycle`), called later.
        case method(receiver: Value, name: String)
    }

    let kind: Kind
    init(_ kind: Kind) { self.kind = kind }
}
