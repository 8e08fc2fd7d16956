/// Jinja's parser, function for function (`parse_condexpr`, `parse_or`, ... `parse_primary`), so
/// precedence and associativity are Jinja's own: `~` binds tighter than `+`, a filter tighter than
/// any binary operator (`'a' + x | trim`), unary minus tighter than `**`, and `**` is left-associative.
///
/// Recursion follows the text's nesting, so every recursive entry counts against
/// `TemplateLimits.maximumNesting` and every expression knows its height: a template nested deeper
/// is a `nestingTooDeep` error before anything deeper is read.
struct Parser {
    private let tokens: [Token]
    private var index = 0
    private var depth = 0
    private let limit: Int
    private var loopDepth = 0
    /// Names used anywhere in the template body being parsed, for a macro's `varargs`/`kwargs`.
    private var namesSeen: [Set<String>] = []

    static let filters: Set<String> = [
        "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "indent",
        "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr",
        "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson",
        "trim", "unique", "upper", "wordcount",
    ]

    static let tests: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "filter",
        "float", "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable", "le", "<=", "lower", "lt",
        "lessthan", "<", "mapping", "ne", "!=", "none", "number", "odd", "sameas", "sequence", "string", "test",
        "true", "undefined", "upper",
    ]

    static func parse(_ tokens: [Token], limits: TemplateLimits) throws(TemplateError) -> [Stmt] {
        var parser = Parser(tokens: tokens, limit: limits.maximumNesting)
        let (body, _) = try parser.subparse(until: [])
        return body
    }

    private init(tokens: [Token], limit: Int) {
        self.tokens = tokens
        self.limit = limit
    }

    // MARK: tokens

    private var current: Token { tokens[index] }
    private var lookahead: Token { tokens[min(index + 1, tokens.count - 1)] }

    private mutating func advance() {
        if index < tokens.count - 1 { index += 1 }
    }

    private func isOp(_ op: String) -> Bool {
        if case .op(op) = current.kind { return true }
        return false
    }

    private func isName(_ name: String) -> Bool {
        if case .name(name) = current.kind { return true }
        return false
    }

    private mutating func skip(op: String) -> Bool {
        guard isOp(op) else { return false }
        advance()
        return true
    }

    private mutating func skip(name: String) -> Bool {
        guard isName(name) else { return false }
        advance()
        return true
    }

    private static func describe(_ kind: Token.Kind) -> String {
        switch kind {
        case .data: return "template data"
        case .blockBegin: return "begin of statement block"
        case .blockEnd: return "end of statement block"
        case .variableBegin: return "begin of print statement"
        case .variableEnd: return "end of print statement"
        case .name(let n): return UntrustedQuote.text(n, limit: 40)
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .op(let o): return o
        case .eof: return "end of template"
        }
    }

    private func error(_ message: String) -> TemplateError {
        .syntax(message: message, line: current.line)
    }

    private mutating func expect(op: String) throws(TemplateError) {
        guard skip(op: op) else {
            if case .eof = current.kind { throw error("unexpected end of template, expected '\(op)'.") }
            throw error("expected token '\(op)', got '\(Self.describe(current.kind))'")
        }
    }

    private mutating func expectName() throws(TemplateError) -> String {
        guard case .name(let name) = current.kind else {
            throw error("expected token 'name', got '\(Self.describe(current.kind))'")
        }
        advance()
        return name
    }

    private mutating func expect(_ kind: Token.Kind, _ what: String) throws(TemplateError) {
        guard current.kind == kind else {
            if case .eof = current.kind { throw error("unexpected end of template, expected '\(what)'.") }
            throw error("expected token '\(what)', got '\(Self.describe(current.kind))'")
        }
        advance()
    }

    private mutating func enter() throws(TemplateError) {
        depth += 1
        if depth > limit { throw .nestingTooDeep(limit: limit, line: current.line) }
    }

    private func make(_ kind: Expr.Kind, _ children: [Expr], line: Int) throws(TemplateError) -> Expr {
        let expr = Expr(kind, line: line, children: children)
        if expr.height > limit { throw .nestingTooDeep(limit: limit, line: line) }
        return expr
    }

    private mutating func noteName(_ name: String) {
        if !namesSeen.isEmpty { namesSeen[namesSeen.count - 1].insert(name) }
    }

    // MARK: statements

    /// Template data, prints and statements until a block whose tag is in `end` (left current, its
    /// `{%` consumed), or the end of the template when `end` is empty.
    private mutating func subparse(until end: Set<String>) throws(TemplateError) -> ([Stmt], String?) {
        var body: [Stmt] = []
        while true {
            let token = current
            switch token.kind {
            case .data(let text):
                body.append(Stmt(.text(text), line: token.line))
                advance()
            case .variableBegin:
                advance()
                let expr = try parseTuple(withCondexpr: true)
                try expect(.variableEnd, "end of print statement")
                body.append(Stmt(.output(expr), line: token.line))
            case .blockBegin:
                advance()
                if case .name(let tag) = current.kind, end.contains(tag) { return (body, tag) }
                body.append(contentsOf: try parseStatement())
                try expect(.blockEnd, "end of statement block")
            case .eof:
                if end.isEmpty { return (body, nil) }
                let expected = end.sorted().map { "'\($0)'" }.joined(separator: " or ")
                throw error("Unexpected end of template. Jinja was looking for the following tags: \(expected).")
            default:
                throw error("unexpected '\(Self.describe(token.kind))'")
            }
        }
    }

    /// `%}` then the body up to one of `end`; returns the body and the end tag (consumed).
    private mutating func statements(until end: Set<String>) throws(TemplateError) -> ([Stmt], String) {
        _ = skip(op: ":")
        try expect(.blockEnd, "end of statement block")
        try enter()
        defer { depth -= 1 }
        let (body, tag) = try subparse(until: end)
        guard let tag else { throw error("unexpected end of template") }
        advance()
        return (body, tag)
    }

    private mutating func parseStatement() throws(TemplateError) -> [Stmt] {
        let line = current.line
        guard case .name(let tag) = current.kind else {
            if case .eof = current.kind { throw error("unexpected end of template") }
            throw error("tag name expected")
        }
        advance()
        switch tag {
        case "if": return [try parseIf(line: line)]
        case "for": return [try parseFor(line: line)]
        case "set": return [try parseSet(line: line)]
        case "macro": return [try parseMacro(line: line)]
        case "with": return [try parseWith(line: line)]
        case "print":
            var exprs: [Expr] = []
            while current.kind != .blockEnd {
                if !exprs.isEmpty { try expect(op: ",") }
                exprs.append(try parseExpression())
            }
            return exprs.map { Stmt(.output($0), line: line) }
        case "generation":
            let (body, _) = try statements(until: ["endgeneration"])
            return [Stmt(.block(body), line: line)]
        case "break", "continue":
            guard loopDepth > 0 else { throw .syntax(message: "'\(tag)' outside of a loop", line: line) }
            return [Stmt(tag == "break" ? .breakLoop : .continueLoop, line: line)]
        case "block", "extends", "include", "import", "from", "filter", "call", "autoescape", "do":
            throw .syntax(message: "the '\(tag)' tag is not supported in chat templates", line: line)
        default:
            throw .syntax(message: "Encountered unknown tag '\(UntrustedQuote.text(tag, limit: 40))'.", line: line)
        }
    }

    private mutating func parseIf(line: Int) throws(TemplateError) -> Stmt {
        var branches: [(Expr, [Stmt])] = []
        var otherwise: [Stmt]?
        while true {
            let test = try parseTuple(withCondexpr: false)
            let (body, tag) = try statements(until: ["elif", "else", "endif"])
            branches.append((test, body))
            if tag == "elif" { continue }
            if tag == "else" { otherwise = try statements(until: ["endif"]).0 }
            break
        }
        return Stmt(.ifChain(branches, otherwise: otherwise), line: line)
    }

    private mutating func parseFor(line: Int) throws(TemplateError) -> Stmt {
        let target = try parseAssignTarget(withNamespace: false, endNames: ["in"])
        guard skip(name: "in") else { throw error("expected token 'in', got '\(Self.describe(current.kind))'") }
        let iterable = try parseTuple(withCondexpr: false, endNames: ["recursive"])
        var condition: Expr?
        if skip(name: "if") { condition = try parseExpression() }
        if isName("recursive") { throw error("recursive loops are not supported") }
        loopDepth += 1
        let (body, tag) = try statements(until: ["endfor", "else"])
        loopDepth -= 1
        var otherwise: [Stmt]?
        if tag == "else" { otherwise = try statements(until: ["endfor"]).0 }
        return Stmt(.forLoop(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise), line: line)
    }

    private mutating func parseSet(line: Int) throws(TemplateError) -> Stmt {
        let target = try parseAssignTarget(withNamespace: true, endNames: [])
        if skip(op: "=") {
            return Stmt(.set(target, try parseTuple(withCondexpr: true)), line: line)
        }
        if isOp("|") { throw error("filtered {% set %} blocks are not supported") }
        let (body, _) = try statements(until: ["endset"])
        return Stmt(.setBlock(target, body), line: line)
    }

    private mutating func parseWith(line: Int) throws(TemplateError) -> Stmt {
        var assignments: [(AssignTarget, Expr)] = []
        while current.kind != .blockEnd {
            if !assignments.isEmpty { try expect(op: ",") }
            let target = try parseAssignTarget(withNamespace: false, endNames: [])
            try expect(op: "=")
            assignments.append((target, try parseExpression()))
        }
        let (body, _) = try statements(until: ["endwith"])
        return Stmt(.with(assignments, body), line: line)
    }

    private mutating func parseMacro(line: Int) throws(TemplateError) -> Stmt {
        let name = try expectName()
        try expect(op: "(")
        var parameters: [(String, Expr?)] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expect(op: ",") }
            let parameter = try expectName()
            if skip(op: "=") {
                parameters.append((parameter, try parseExpression()))
            } else {
                if parameters.contains(where: { $0.1 != nil }) { throw error("non-default argument follows default argument") }
                parameters.append((parameter, nil))
            }
        }
        try expect(op: ")")
        let outerLoops = loopDepth
        loopDepth = 0
        namesSeen.append([])
        let (body, _) = try statements(until: ["endmacro"])
        let seen = namesSeen.removeLast()
        noteNames(seen)
        loopDepth = outerLoops
        return Stmt(.macro(MacroDefinition(name: name, parameters: parameters, body: body,
                                           takesVarargs: seen.contains("varargs"), takesKwargs: seen.contains("kwargs"))),
                    line: line)
    }

    private mutating func noteNames(_ names: Set<String>) {
        if !namesSeen.isEmpty { namesSeen[namesSeen.count - 1].formUnion(names) }
    }

    /// A name, `ns.attr` (with `withNamespace`), or a tuple of names (`k, v`).
    private mutating func parseAssignTarget(withNamespace: Bool, endNames: Set<String>) throws(TemplateError) -> AssignTarget {
        if withNamespace, case .name(let object) = current.kind, case .op(".") = lookahead.kind {
            advance()
            advance()
            return .attribute(object, try expectName())
        }
        var targets: [AssignTarget] = []
        var isTuple = false
        while true {
            if !targets.isEmpty { try expect(op: ",") }
            if isTupleEnd(endNames) { break }
            targets.append(try parseSimpleTarget())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple, let only = targets.first { return only }
        if targets.isEmpty { throw error("Expected an expression, got '\(Self.describe(current.kind))'") }
        return .tuple(targets)
    }

    private mutating func parseSimpleTarget() throws(TemplateError) -> AssignTarget {
        switch current.kind {
        case .name(let name):
            if ["true", "false", "True", "False", "none", "None"].contains(name) { throw error("can't assign to 'const'") }
            advance()
            return .name(name)
        case .op("("):
            try enter()
            defer { depth -= 1 }
            advance()
            let inner = try parseAssignTarget(withNamespace: false, endNames: [])
            try expect(op: ")")
            return inner
        default:
            throw error("can't assign to '\(Self.describe(current.kind))'")
        }
    }

    // MARK: expressions

    private func isTupleEnd(_ endNames: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .op(")"): return true
        case .name(let name): return endNames.contains(name)
        default: return false
        }
    }

    private mutating func parseTuple(withCondexpr: Bool, endNames: Set<String> = [],
                                     explicitParentheses: Bool = false) throws(TemplateError) -> Expr {
        let line = current.line
        var items: [Expr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expect(op: ",") }
            if isTupleEnd(endNames) { break }
            items.append(withCondexpr ? try parseExpression() : try parseOr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let only = items.first { return only }
            if !explicitParentheses { throw error("Expected an expression, got '\(Self.describe(current.kind))'") }
        }
        return try make(.tuple(items), items, line: line)
    }

    private mutating func parseExpression() throws(TemplateError) -> Expr {
        var expr = try parseOr()
        while isName("if") {
            let line = current.line
            advance()
            let test = try parseOr()
            var otherwise: Expr?
            if skip(name: "else") {
                // `a if b else c if d else ...` recurses here, outside parseUnary's count.
                try enter()
                defer { depth -= 1 }
                otherwise = try parseExpression()
            }
            expr = try make(.conditional(test: test, then: expr, otherwise: otherwise),
                            [test, expr] + (otherwise.map { [$0] } ?? []), line: line)
        }
        return expr
    }

    private mutating func parseOr() throws(TemplateError) -> Expr {
        var left = try parseAnd()
        while isName("or") {
            let line = current.line
            advance()
            let right = try parseAnd()
            left = try make(.or(left, right), [left, right], line: line)
        }
        return left
    }

    private mutating func parseAnd() throws(TemplateError) -> Expr {
        var left = try parseNot()
        while isName("and") {
            let line = current.line
            advance()
            let right = try parseNot()
            left = try make(.and(left, right), [left, right], line: line)
        }
        return left
    }

    private mutating func parseNot() throws(TemplateError) -> Expr {
        guard isName("not") else { return try parseCompare() }
        let line = current.line
        advance()
        try enter()
        defer { depth -= 1 }
        let operand = try parseNot()
        return try make(.not(operand), [operand], line: line)
    }

    private mutating func parseCompare() throws(TemplateError) -> Expr {
        let line = current.line
        let first = try parseMath1()
        var operations: [(CompareOperator, Expr)] = []
        while true {
            var op: CompareOperator?
            if case .op(let text) = current.kind, let compare = CompareOperator(rawValue: text), compare != .in, compare != .notIn {
                op = compare
                advance()
            } else if isName("in") {
                op = .in
                advance()
            } else if isName("not"), case .name("in") = lookahead.kind {
                op = .notIn
                advance()
                advance()
            }
            guard let op else { break }
            operations.append((op, try parseMath1()))
        }
        if operations.isEmpty { return first }
        return try make(.compare(first, operations), [first] + operations.map(\.1), line: line)
    }

    private mutating func parseMath1() throws(TemplateError) -> Expr {
        var left = try parseConcat()
        while case .op(let text) = current.kind, text == "+" || text == "-" {
            let line = current.line
            advance()
            let right = try parseConcat()
            left = try make(.binary(text == "+" ? .add : .subtract, left, right), [left, right], line: line)
        }
        return left
    }

    private mutating func parseConcat() throws(TemplateError) -> Expr {
        var left = try parseMath2()
        while isOp("~") {
            let line = current.line
            advance()
            let right = try parseMath2()
            left = try make(.binary(.concat, left, right), [left, right], line: line)
        }
        return left
    }

    private mutating func parseMath2() throws(TemplateError) -> Expr {
        var left = try parsePow()
        while case .op(let text) = current.kind, let op = BinaryOperator(rawValue: text),
              [.multiply, .divide, .floorDivide, .modulo].contains(op) {
            let line = current.line
            advance()
            let right = try parsePow()
            left = try make(.binary(op, left, right), [left, right], line: line)
        }
        return left
    }

    private mutating func parsePow() throws(TemplateError) -> Expr {
        var left = try parseUnary()
        while isOp("**") {
            let line = current.line
            advance()
            let right = try parseUnary()
            left = try make(.binary(.power, left, right), [left, right], line: line)
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws(TemplateError) -> Expr {
        try enter()
        defer { depth -= 1 }
        let line = current.line
        var node: Expr
        if isOp("-") {
            advance()
            let operand = try parseUnary(withFilter: false)
            node = try make(.negate(operand), [operand], line: line)
        } else if isOp("+") {
            advance()
            let operand = try parseUnary(withFilter: false)
            node = try make(.plus(operand), [operand], line: line)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    private mutating func parsePrimary() throws(TemplateError) -> Expr {
        let token = current
        switch token.kind {
        case .name(let name):
            advance()
            switch name {
            case "true", "True": return try make(.literal(.bool(true)), [], line: token.line)
            case "false", "False": return try make(.literal(.bool(false)), [], line: token.line)
            case "none", "None": return try make(.literal(.none), [], line: token.line)
            default:
                noteName(name)
                return try make(.name(name), [], line: token.line)
            }
        case .string(let text):
            advance()
            var joined = text
            while case .string(let more) = current.kind {
                joined += more
                advance()
            }
            return try make(.literal(.string(joined)), [], line: token.line)
        case .integer(let value):
            advance()
            return try make(.literal(.int(value)), [], line: token.line)
        case .float(let value):
            advance()
            return try make(.literal(.double(value)), [], line: token.line)
        case .op("("):
            advance()
            let inner = try parseTuple(withCondexpr: true, explicitParentheses: true)
            try expect(op: ")")
            return inner
        case .op("["):
            advance()
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expect(op: ",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expect(op: "]")
            return try make(.list(items), items, line: token.line)
        case .op("{"):
            advance()
            var items: [(Expr, Expr)] = []
            while !isOp("}") {
                if !items.isEmpty { try expect(op: ",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expect(op: ":")
                items.append((key, try parseExpression()))
            }
            try expect(op: "}")
            return try make(.dict(items), items.flatMap { [$0.0, $0.1] }, line: token.line)
        case .eof:
            throw error("unexpected end of template")
        default:
            throw error("unexpected '\(Self.describe(token.kind))'")
        }
    }

    private mutating func parsePostfix(_ start: Expr) throws(TemplateError) -> Expr {
        var node = start
        while true {
            if isOp(".") || isOp("[") {
                node = try parseSubscript(node)
            } else if isOp("(") {
                node = try parseCall(node)
            } else {
                return node
            }
        }
    }

    private mutating func parseFilterExpression(_ start: Expr) throws(TemplateError) -> Expr {
        var node = start
        while true {
            if isOp("|") {
                node = try parseFilters(node)
            } else if isName("is") {
                node = try parseTest(node)
            } else if isOp("(") {
                node = try parseCall(node)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ node: Expr) throws(TemplateError) -> Expr {
        let line = current.line
        if skip(op: ".") {
            switch current.kind {
            case .name(let attribute):
                advance()
                return try make(.getattr(node, attribute), [node], line: line)
            case .integer(let value):
                advance()
                let key = try make(.literal(.int(value)), [], line: line)
                return try make(.getitem(node, key), [node, key], line: line)
            default:
                throw error("expected name or number")
            }
        }
        try expect(op: "[")
        var arguments: [Expr] = []
        while !isOp("]") {
            if !arguments.isEmpty { try expect(op: ",") }
            arguments.append(try parseSubscribed())
        }
        try expect(op: "]")
        let argument = arguments.count == 1 ? arguments[0] : try make(.tuple(arguments), arguments, line: line)
        if case .slice(let base, let start, let stop, let step) = argument.kind, base === Self.sliceMarker {
            return try make(.slice(node, start, stop, step), [node] + [start, stop, step].compactMap { $0 }, line: line)
        }
        return try make(.getitem(node, argument), [node, argument], line: line)
    }

    /// Stands for "the object being sliced" inside a `[a:b:c]` before it is attached.
    static let sliceMarker = Expr(.literal(.none), line: 0, children: [])

    private mutating func parseSubscribed() throws(TemplateError) -> Expr {
        let line = current.line
        var parts: [Expr?] = []
        if skip(op: ":") {
            parts.append(nil)
        } else {
            let node = try parseExpression()
            guard skip(op: ":") else { return node }
            parts.append(node)
        }
        if isOp(":") || isOp("]") || isOp(",") {
            parts.append(nil)
        } else {
            parts.append(try parseExpression())
        }
        if skip(op: ":") {
            parts.append(isOp("]") || isOp(",") ? nil : try parseExpression())
        } else {
            parts.append(nil)
        }
        return try make(.slice(Self.sliceMarker, parts[0], parts[1], parts[2]), parts.compactMap { $0 }, line: line)
    }

    private mutating func parseCallArguments() throws(TemplateError) -> Arguments {
        try expect(op: "(")
        var arguments = Arguments()
        var requireComma = false
        while !isOp(")") {
            if requireComma {
                try expect(op: ",")
                if isOp(")") { break }
            }
            if isOp("*") || isOp("**") { throw error("*args and **kwargs in calls are not supported") }
            if case .name(let key) = current.kind, case .op("=") = lookahead.kind {
                advance()
                advance()
                arguments.keywords.append((key, try parseExpression()))
            } else {
                if !arguments.keywords.isEmpty { throw error("invalid syntax for function call expression") }
                arguments.positional.append(try parseExpression())
            }
            requireComma = true
        }
        try expect(op: ")")
        return arguments
    }

    private mutating func parseCall(_ node: Expr) throws(TemplateError) -> Expr {
        let line = current.line
        let arguments = try parseCallArguments()
        return try make(.call(node, arguments), [node] + arguments.all, line: line)
    }

    private mutating func parseFilters(_ start: Expr) throws(TemplateError) -> Expr {
        var node = start
        while isOp("|") {
            let line = current.line
            advance()
            var name = try expectName()
            while skip(op: ".") { name += "." + (try expectName()) }
            guard Self.filters.contains(name) else {
                throw .syntax(message: "No filter named '\(UntrustedQuote.text(name, limit: 40))'.", line: line)
            }
            let arguments = isOp("(") ? try parseCallArguments() : Arguments()
            node = try make(.filter(node, name, arguments), [node] + arguments.all, line: line)
        }
        return node
    }

    private mutating func parseTest(_ node: Expr) throws(TemplateError) -> Expr {
        let line = current.line
        advance()  // is
        let negated = skip(name: "not")
        var name = try expectName()
        while skip(op: ".") { name += "." + (try expectName()) }
        guard Self.tests.contains(name) else {
            throw .syntax(message: "No test named '\(UntrustedQuote.text(name, limit: 40))'.", line: line)
        }
        var arguments = Arguments()
        if isOp("(") {
            arguments = try parseCallArguments()
        } else {
            switch current.kind {
            case .name("else"), .name("or"), .name("and"): break
            case .name("is"): throw error("You cannot chain multiple tests with is")
            case .name, .string, .integer, .float, .op("("), .op("["), .op("{"):
                try enter()
                defer { depth -= 1 }
                arguments.positional = [try parsePostfix(try parsePrimary())]
            default: break
            }
        }
        return try make(.test(node, name, arguments, negated: negated), [node] + arguments.all, line: line)
    }
}
