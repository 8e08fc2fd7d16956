/// An expression, with its height (the longest path to a leaf) so that evaluating it recursively is
/// known to stay within `TemplateLimits.maximumNesting` before it runs.
final class Expr: Sendable {
    indirect enum Kind: Sendable {
        case literal(Literal)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(Expr, Expr)])
        case getattr(Expr, String)
        case getitem(Expr, Expr)
        case slice(Expr, Expr?, Expr?, Expr?)
        case call(Expr, Arguments)
        case filter(Expr, String, Arguments)
        /// `x is name(args)`, negated for `is not`.
        case test(Expr, String, Arguments, negated: Bool)
        case not(Expr)
        case negate(Expr)
        case plus(Expr)
        case binary(BinaryOperator, Expr, Expr)
        /// `a < b < c`: Python's chained comparison.
        case compare(Expr, [(CompareOperator, Expr)])
        case and(Expr, Expr)
        case or(Expr, Expr)
        case conditional(test: Expr, then: Expr, otherwise: Expr?)
    }

    let kind: Kind
    let height: Int
    let line: Int

    init(_ kind: Kind, line: Int, children: [Expr]) {
        self.kind = kind
        self.line = line
        self.height = 1 + (children.map(\.height).max() ?? 0)
    }
}

enum Literal: Sendable {
    case none, bool(Bool), int(Int), double(Double), string(String)
}

struct Arguments: Sendable {
    var positional: [Expr] = []
    var keywords: [(String, Expr)] = []

    var all: [Expr] { positional + keywords.map(\.1) }
}

enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**", concat = "~"
}

enum CompareOperator: String, Sendable {
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=", `in` = "in", notIn = "not in"
}

/// Where `{% set %}` and `{% for %}` put values.
indirect enum AssignTarget: Sendable {
    case name(String)
    /// `ns.attr`: only namespaces accept it.
    case attribute(String, String)
    case tuple([AssignTarget])
}

final class Stmt: Sendable {
    enum Kind: Sendable {
        case text(String)
        case output(Expr)
        case ifChain([(Expr, [Stmt])], otherwise: [Stmt]?)
        case forLoop(target: AssignTarget, iterable: Expr, condition: Expr?, body: [Stmt], otherwise: [Stmt]?)
        case set(AssignTarget, Expr)
        case setBlock(AssignTarget, [Stmt])
        case macro(MacroDefinition)
        case with([(AssignTarget, Expr)], [Stmt])
        /// transformers' `{% generation %}` (it only marks assistant text for masks; it renders its body).
        case block([Stmt])
        case breakLoop, continueLoop
    }

    let kind: Kind
    let line: Int

    init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }
}

struct MacroDefinition: Sendable {
    let name: String
    let parameters: [(String, Expr?)]
    let body: [Stmt]
    /// Whether the body mentions `varargs`/`kwargs`: Jinja accepts extra arguments only then.
    let takesVarargs: Bool
    let takesKwargs: Bool
}
