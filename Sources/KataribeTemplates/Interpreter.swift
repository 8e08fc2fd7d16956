import Foundation

/// Variables visible at one point of a template: Jinja's frames. A `for` iteration, a macro call and
/// `{% with %}` get a frame of their own, so what they `set` is gone afterwards (which is why
/// templates use `namespace()`); `if` does not.
final class Scope {
    private var variables: [String: Value] = [:]
    let parent: Scope?

    init(parent: Scope?) { self.parent = parent }

    func lookup(_ name: String) -> Value? {
        var scope: Scope? = self
        while let current = scope {
            if let value = current.variables[name] { return value }
            scope = current.parent
        }
        return nil
    }

    func set(_ name: String, _ value: Value) { variables[name] = value }
}

/// A macro as a value: its definition and the frame it was defined in (names it does not bind
/// itself are read from there when it is called, as Jinja's closures do).
final class Macro {
    let definition: MacroDefinition
    let scope: Scope
    init(_ definition: MacroDefinition, scope: Scope) {
        self.definition = definition
        self.scope = scope
    }
}

/// Runs a parsed template. Every statement, expression, loop turn and element a filter walks costs a
/// step; every recursive call checks the depth, so hostile templates end in a `TemplateError`.
final class Interpreter {
    let limits: TemplateLimits
    let now: @Sendable () -> Date
    private var steps = 0
    private var depth = 0
    private var callDepth = 0
    private var buffers: [String] = [""]
    private var bufferLengths: [Int] = [0]

    private enum Flow { case normal, breakLoop, continueLoop }

    init(limits: TemplateLimits, now: @escaping @Sendable () -> Date) {
        self.limits = limits
        self.now = now
    }

    func render(_ body: [Stmt], context: [String: Value]) throws -> String {
        let globals = Scope(parent: nil)
        for name in ["range", "dict", "namespace", "raise_exception", "strftime_now"] {
            globals.set(name, .callable(Callable(.builtin(name))))
        }
        let contextScope = Scope(parent: globals)
        for (name, value) in context { contextScope.set(name, value) }
        let root = Scope(parent: contextScope)
        _ = try execute(body, root)
        return buffers[0]
    }

    // MARK: budget

    func step(_ count: Int = 1) throws {
        steps += count
        if steps > limits.maximumSteps {
            throw TemplateError.limitExceeded(message: "rendering took more than \(limits.maximumSteps) steps")
        }
    }

    /// Checks the size of a string or list a template builds, so that doubling in a loop stops early.
    func checkSize(_ count: Int, _ what: String = "value") throws {
        if count > limits.maximumOutputLength {
            throw TemplateError.limitExceeded(message: "a \(what) longer than \(limits.maximumOutputLength) was built")
        }
    }

    private func enter(line: Int) throws {
        depth += 1
        if depth > limits.maximumNesting * 3 {
            throw TemplateError.nestingTooDeep(limit: limits.maximumNesting * 3, line: line)
        }
    }

    private func write(_ text: String) throws {
        guard !text.isEmpty else { return }
        let length = text.utf8.count
        bufferLengths[bufferLengths.count - 1] += length
        if bufferLengths[bufferLengths.count - 1] > limits.maximumOutputLength {
            throw TemplateError.limitExceeded(message: "the rendered text is longer than \(limits.maximumOutputLength) bytes")
        }
        buffers[buffers.count - 1] += text
    }

    private func capture(_ body: () throws -> Void) throws -> String {
        buffers.append("")
        bufferLengths.append(0)
        defer {
            buffers.removeLast()
            bufferLengths.removeLast()
        }
        try body()
        return buffers[buffers.count - 1]
    }

    // MARK: statements

    private func execute(_ body: [Stmt], _ scope: Scope) throws -> Flow {
        for stmt in body {
            let flow = try execute(stmt, scope)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func execute(_ stmt: Stmt, _ scope: Scope) throws -> Flow {
        try step()
        try enter(line: stmt.line)
        defer { depth -= 1 }
        switch stmt.kind {
        case .text(let text):
            try write(text)
        case .output(let expr):
            try write(try str(try eval(expr, scope)))
        case .ifChain(let branches, let otherwise):
            for (test, body) in branches {
                if try eval(test, scope).truthy { return try execute(body, scope) }
            }
            if let otherwise { return try execute(otherwise, scope) }
        case let .forLoop(target, iterable, condition, body, otherwise):
            return try executeFor(target, iterable, condition, body, otherwise, scope)
        case .set(let target, let expr):
            try assign(target, try eval(expr, scope), scope)
        case .setBlock(let target, let body):
            var flow = Flow.normal
            let text = try capture { flow = try execute(body, scope) }
            try assign(target, .string(text), scope)
            return flow
        case .macro(let definition):
            scope.set(definition.name, .callable(Callable(.macro(Macro(definition, scope: scope)))))
        case .with(let assignments, let body):
            let inner = Scope(parent: scope)
            for (target, expr) in assignments { try assign(target, try eval(expr, scope), inner) }
            return try execute(body, inner)
        case .block(let body):
            return try execute(body, scope)
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        }
        return .normal
    }

    private func executeFor(_ target: AssignTarget, _ iterableExpr: Expr, _ condition: Expr?, _ body: [Stmt],
                            _ otherwise: [Stmt]?, _ scope: Scope) throws -> Flow {
        let iterable = try eval(iterableExpr, scope)
        var items = try iterate(iterable)
        if let condition {
            // The filter sees the target but not `loop` (its length is not known yet).
            var kept: [Value] = []
            for item in items {
                try step()
                let probe = Scope(parent: scope)
                try assign(target, item, probe)
                if try eval(condition, probe).truthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            if let otherwise { return try execute(otherwise, scope) }
            return .normal
        }
        let loop = LoopState(items: items)
        for (index, item) in items.enumerated() {
            try step()
            loop.index0 = index
            let iteration = Scope(parent: scope)
            iteration.set("loop", .loop(loop))
            try assign(target, item, iteration)
            if try execute(body, iteration) == .breakLoop { break }
        }
        return .normal
    }

    private func assign(_ target: AssignTarget, _ value: Value, _ scope: Scope) throws {
        switch target {
        case .name(let name):
            scope.set(name, value)
        case .attribute(let object, let attribute):
            guard case .namespace(let namespace)? = scope.lookup(object) else {
                throw TemplateError.render(message: "cannot assign attribute on non-namespace object")
            }
            if attribute.hasPrefix("_") {
                throw TemplateError.render(message: "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(UntrustedQuote.text(attribute, limit: 40))'. Please rename the attribute.")
            }
            namespace.attributes.set(.string(attribute), value)
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                if items.count > targets.count {
                    throw TemplateError.render(message: "too many values to unpack (expected \(targets.count))")
                }
                throw TemplateError.render(message: "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (target, item) in zip(targets, items) { try assign(target, item, scope) }
        }
    }

    // MARK: expressions

    func eval(_ expr: Expr, _ scope: Scope) throws -> Value {
        try step()
        try enter(line: expr.line)
        defer { depth -= 1 }
        switch expr.kind {
        case .literal(let literal):
            switch literal {
            case .none: return .none
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .string(let s): return .string(s)
            }
        case .name(let name):
            return scope.lookup(name) ?? .undefined(hint: "'\(UntrustedQuote.text(name, limit: 60))' is undefined")
        case .list(let items):
            return .list(try items.map { try eval($0, scope) })
        case .tuple(let items):
            return .tuple(try items.map { try eval($0, scope) })
        case .dict(let pairs):
            var dict = OrderedDict()
            for (keyExpr, valueExpr) in pairs {
                let key = try eval(keyExpr, scope)
                let value = try eval(valueExpr, scope)
                guard dict.set(key, value) else { throw TemplateError.render(message: "unhashable type: '\(key.typeName)'") }
            }
            return .dict(dict)
        case .getattr(let objectExpr, let name):
            return try attribute(of: try eval(objectExpr, scope), name)
        case .getitem(let objectExpr, let keyExpr):
            let object = try eval(objectExpr, scope)
            return try item(of: object, try eval(keyExpr, scope))
        case let .slice(objectExpr, start, stop, stepExpr):
            if objectExpr === Parser.sliceMarker { throw TemplateError.render(message: "slices are only supported as the only subscript") }
            let object = try eval(objectExpr, scope)
            let bounds = try [start, stop, stepExpr].map { try $0.map { try eval($0, scope) } }
            return try slice(object, bounds[0], bounds[1], bounds[2])
        case .call(let calleeExpr, let arguments):
            let callee = try eval(calleeExpr, scope)
            let (positional, keywords) = try evalArguments(arguments, scope)
            return try call(callee, positional, keywords)
        case .filter(let valueExpr, let name, let arguments):
            let value = try eval(valueExpr, scope)
            let (positional, keywords) = try evalArguments(arguments, scope)
            return try applyFilter(name, value, positional, keywords)
        case let .test(valueExpr, name, arguments, negated):
            let value = try eval(valueExpr, scope)
            let (positional, keywords) = try evalArguments(arguments, scope)
            let result = try applyTest(name, value, positional, keywords)
            return .bool(negated ? !result : result)
        case .not(let operand):
            return .bool(!(try eval(operand, scope).truthy))
        case .negate(let operand):
            return try negate(try eval(operand, scope))
        case .plus(let operand):
            let value = try eval(operand, scope)
            switch value {
            case .int, .double: return value
            case .bool(let b): return .int(b ? 1 : 0)
            default:
                try failIfUndefined(value)
                throw TemplateError.render(message: "bad operand type for unary +: '\(value.typeName)'")
            }
        case let .binary(op, leftExpr, rightExpr):
            let left = try eval(leftExpr, scope)
            let right = try eval(rightExpr, scope)
            return try binary(op, left, right)
        case let .compare(firstExpr, operations):
            var left = try eval(firstExpr, scope)
            for (op, rightExpr) in operations {
                let right = try eval(rightExpr, scope)
                guard try compare(op, left, right) else { return .false }
                left = right
            }
            return .true
        case let .and(leftExpr, rightExpr):
            let left = try eval(leftExpr, scope)
            return left.truthy ? try eval(rightExpr, scope) : left
        case let .or(leftExpr, rightExpr):
            let left = try eval(leftExpr, scope)
            return left.truthy ? left : try eval(rightExpr, scope)
        case let .conditional(test, then, otherwise):
            if try eval(test, scope).truthy { return try eval(then, scope) }
            if let otherwise { return try eval(otherwise, scope) }
            return .undefined(hint: "the inline if-expression on line \(expr.line) evaluated to false and no else section was defined.")
        }
    }

    private func evalArguments(_ arguments: Arguments, _ scope: Scope) throws -> ([Value], [(String, Value)]) {
        let positional = try arguments.positional.map { try eval($0, scope) }
        let keywords = try arguments.keywords.map { ($0.0, try eval($0.1, scope)) }
        return (positional, keywords)
    }

    /// Jinja's `Undefined` fails on anything but printing, testing, iterating and comparing for equality.
    func failIfUndefined(_ value: Value) throws {
        if case .undefined(let hint) = value { throw TemplateError.render(message: hint) }
    }

    // MARK: calls

    func call(_ callee: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        switch callee {
        case .undefined(let hint):
            throw TemplateError.render(message: hint)
        case .callable(let callable):
            switch callable.kind {
            case .macro(let macro): return try callMacro(macro, positional, keywords)
            case .builtin(let name): return try callGlobal(name, positional, keywords)
            case .method(let receiver, let name): return try callMethod(receiver, name, positional, keywords)
            }
        default:
            throw TemplateError.render(message: "'\(callee.typeName)' object is not callable")
        }
    }

    private func callMacro(_ macro: Macro, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        let definition = macro.definition
        callDepth += 1
        defer { callDepth -= 1 }
        if callDepth > limits.maximumCallDepth {
            throw TemplateError.nestingTooDeep(limit: limits.maximumCallDepth, line: definition.body.first?.line ?? 0)
        }
        let frame = Scope(parent: macro.scope)
        var remaining = keywords
        for (index, (name, defaultExpr)) in definition.parameters.enumerated() {
            if index < positional.count {
                if remaining.contains(where: { $0.0 == name }) {
                    throw TemplateError.render(message: "macro '\(definition.name)' got multiple values for argument '\(name)'")
                }
                frame.set(name, positional[index])
            } else if let i = remaining.firstIndex(where: { $0.0 == name }) {
                frame.set(name, remaining.remove(at: i).1)
            } else if let defaultExpr {
                frame.set(name, try eval(defaultExpr, frame))
            } else {
                frame.set(name, .undefined(hint: "parameter '\(name)' was not provided"))
            }
        }
        let extra = Array(positional.dropFirst(definition.parameters.count))
        if !extra.isEmpty && !definition.takesVarargs {
            throw TemplateError.render(message: "macro '\(definition.name)' takes not more than \(definition.parameters.count) argument(s)")
        }
        if !remaining.isEmpty && !definition.takesKwargs {
            throw TemplateError.render(message: "macro '\(definition.name)' takes no keyword argument '\(remaining[0].0)'")
        }
        frame.set("varargs", .tuple(extra))
        var kwargs = OrderedDict()
        for (name, value) in remaining { kwargs.set(.string(name), value) }
        frame.set("kwargs", .dict(kwargs))
        let text = try capture { _ = try execute(definition.body, frame) }
        return .string(text)
    }

    private func callGlobal(_ name: String, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        switch name {
        case "range":
            guard keywords.isEmpty else { throw TemplateError.render(message: "range() takes no keyword arguments") }
            let ints = try positional.map { value -> Int in
                switch value {
                case .int(let i): return i
                case .bool(let b): return b ? 1 : 0
                default:
                    try failIfUndefined(value)
                    throw TemplateError.render(message: "'\(value.typeName)' object cannot be interpreted as an integer")
                }
            }
            let (start, stop, stride): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, stride) = (0, ints[0], 1)
            case 2: (start, stop, stride) = (ints[0], ints[1], 1)
            case 3: (start, stop, stride) = (ints[0], ints[1], ints[2])
            default: throw TemplateError.render(message: "range expected at most 3 arguments, got \(ints.count)")
            }
            guard stride != 0 else { throw TemplateError.render(message: "range() arg 3 must not be zero") }
            let (span, overflow) = stop.subtractingReportingOverflow(start)
            let count = overflow ? Int.max : max(0, stride > 0 ? (span + stride - 1) / stride : (span + stride + 1) / stride)
            // The sandbox's own limit (jinja2.sandbox.MAX_RANGE).
            guard count <= 100_000 else {
                throw TemplateError.limitExceeded(message: "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).")
            }
            try step(count)
            return .list((0..<count).map { .int(start + $0 * stride) })
        case "dict":
            var dict = OrderedDict()
            if let first = positional.first {
                guard positional.count == 1 else { throw TemplateError.render(message: "dict expected at most 1 argument, got \(positional.count)") }
                for pair in try iterate(first) {
                    let kv = try iterate(pair)
                    guard kv.count == 2 else { throw TemplateError.render(message: "dictionary update sequence element has length \(kv.count); 2 is required") }
                    guard dict.set(kv[0], kv[1]) else { throw TemplateError.render(message: "unhashable type: '\(kv[0].typeName)'") }
                }
            }
            for (key, value) in keywords { dict.set(.string(key), value) }
            return .dict(dict)
        case "namespace":
            let namespace = Namespace()
            for argument in positional {
                if case .dict(let dict) = argument {
                    for (key, value) in dict.items { namespace.attributes.set(key, value) }
                } else {
                    throw TemplateError.render(message: "namespace() takes a mapping as its positional argument")
                }
            }
            for (key, value) in keywords {
                if key.hasPrefix("_") {
                    throw TemplateError.render(message: "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(UntrustedQuote.text(key, limit: 40))'. Please rename the attribute.")
                }
                namespace.attributes.set(.string(key), value)
            }
            return .namespace(namespace)
        case "raise_exception":
            guard let message = positional.first ?? keywords.first(where: { $0.0 == "message" })?.1 else {
                throw TemplateError.render(message: "raise_exception() missing 1 required positional argument: 'message'")
            }
            throw TemplateError.raised(message: try str(message))
        case "strftime_now":
            guard let format = positional.first ?? keywords.first(where: { $0.0 == "format" })?.1 else {
                throw TemplateError.render(message: "strftime_now() missing 1 required positional argument: 'format'")
            }
            guard case .string(let pattern) = format else {
                try failIfUndefined(format)
                throw TemplateError.render(message: "strftime() argument 1 must be str, not \(format.typeName)")
            }
            return .string(Strftime.format(pattern, now()))
        default:
            throw TemplateError.render(message: "'\(name)' is not callable")
        }
    }

    // MARK: iteration

    /// What `for`, `list` and friends iterate: list and tuple items, a string's characters (code
    /// points), a dict's keys; undefined iterates as empty.
    func iterate(_ value: Value) throws -> [Value] {
        switch value {
        case .undefined: return []
        case .list(let items), .tuple(let items): return items
        case .string(let s):
            try step(s.unicodeScalars.count)
            return s.unicodeScalars.map { .string(String($0)) }
        case .dict(let dict): return dict.keys
        case .loop(let loop): return loop.items
        default: throw TemplateError.render(message: "'\(value.typeName)' object is not iterable")
        }
    }
}
