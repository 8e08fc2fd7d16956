/// Why a template could not be read or rendered. Templates come from downloaded files, so every way
/// one can fail is one of these cases, never a crash: the interpreter bounds nesting, work and
/// output instead of trusting the text.
public enum TemplateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not a template this interpreter can read (Jinja's TemplateSyntaxError and TemplateAssertionError:
    /// bad syntax, an unknown filter or test, a tag it does not support).
    case syntax(message: String, line: Int)
    /// Blocks or expressions nested deeper than `TemplateLimits.maximumNesting`, or macros calling
    /// each other deeper than `maximumCallDepth`: refused rather than risking the stack.
    case nestingTooDeep(limit: Int, line: Int)
    /// The template called `raise_exception(message)`: it refuses the conversation it was given
    /// (Gemma's "System role not supported", roles that do not alternate...).
    case raised(message: String)
    /// An error Jinja raises while rendering: an undefined value used (UndefinedError), a Python
    /// TypeError or ValueError, a sandbox SecurityError.
    case render(message: String)
    /// The template asked for more work, output or memory than `TemplateLimits` allows.
    case limitExceeded(message: String)

    public var description: String {
        switch self {
        case let .syntax(message, line): return "chat template line \(line): \(message)"
        case let .nestingTooDeep(limit, line): return "chat template line \(line): nested deeper than \(limit) levels"
        case let .raised(message): return "the chat template refused the conversation: \(message)"
        case let .render(message): return "chat template: \(message)"
        case let .limitExceeded(message): return "chat template: \(message)"
        }
    }
}

/// Bounds on what a template may make the interpreter do. The defaults are far above what real
/// chat templates need (the largest collected ones nest about a dozen levels and render a few
/// kilobytes) and far below what would exhaust a thread's stack or the machine's memory.
public struct TemplateLimits: Sendable, Equatable {
    /// Largest template source, in Unicode scalars.
    public var maximumSourceLength: Int
    /// Deepest nesting of blocks plus expressions, checked while parsing (and again while
    /// rendering, where macro calls add to it).
    public var maximumNesting: Int
    /// Deepest chain of macro calls.
    public var maximumCallDepth: Int
    /// Largest rendered text, and largest string or list a template may build, in elements.
    public var maximumOutputLength: Int
    /// Evaluation steps for one render (each expression, statement, loop turn and element a
    /// filter touches is a step); what stops a template that would run for hours.
    public var maximumSteps: Int

    public init(maximumSourceLength: Int = 1 << 20, maximumNesting: Int = 64, maximumCallDepth: Int = 16,
                maximumOutputLength: Int = 4 << 20, maximumSteps: Int = 5_000_000) {
        self.maximumSourceLength = maximumSourceLength
        self.maximumNesting = maximumNesting
        self.maximumCallDepth = maximumCallDepth
        self.maximumOutputLength = maximumOutputLength
        self.maximumSteps = maximumSteps
    }
}
