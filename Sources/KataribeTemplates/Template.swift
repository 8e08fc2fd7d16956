import Foundation

/// A Jinja2 template as transformers compiles chat templates: `ImmutableSandboxedEnvironment` with
/// `trim_blocks=True`, `lstrip_blocks=True`, the loop controls, its `{% generation %}` tag, its
/// `tojson`, and the globals `raise_exception`, `strftime_now`, `namespace`, `dict` and `range`.
///
/// Supported: `{{ }}`, `{# #}`, whitespace control (`-`/`+`), `{% raw %}`, `if/elif/else`,
/// `for` (with `else`, a trailing `if` filter, tuple targets, `loop.*`, `break`/`continue`), `set`
/// (names, tuples, `ns.attr`, `{% set x %}…{% endset %}`), `macro` and calls, `with`, `print`; every
/// expression form (literals, lists, dicts, tuples, slices, attribute and item access, calls,
/// filters, tests, arithmetic, `~`, `%` string formatting, comparisons incl. chains, `in`/`not in`,
/// `and`/`or`/`not`, inline `if`); the filters and tests in `Parser.filters`/`Parser.tests`; the
/// common `str`, `dict` and `list` methods. Refused with `TemplateError.syntax`: `extends`, `block`,
/// `include`, `import`, `call`, `filter` blocks, recursive loops, `*args` in calls and any filter or
/// test not listed; at render time, `%(name)s` formats and methods not listed.
///
/// Where it differs from Jinja on purpose: integers are 64-bit (an overflow is
/// `TemplateError.limitExceeded`, where Python would grow the number); lazy results (`map`, `select`,
/// `reverse`, `dict.items()`) are lists, which print as lists rather than as generator objects.
public struct Template: Sendable {
    public let source: String
    public let limits: TemplateLimits
    let body: [Stmt]

    public init(_ source: String, limits: TemplateLimits = TemplateLimits()) throws(TemplateError) {
        self.source = source
        self.limits = limits
        let tokens = try Lexer.tokenize(source, limits: limits)
        body = try Parser.parse(tokens, limits: limits)
    }

    /// Renders with `context` as the template's variables. `now` is what `strftime_now` reads
    /// (transformers: `datetime.now()`); tests fix it.
    public func render(_ context: [String: TemplateValue],
                       now: @escaping @Sendable () -> Date = { Date() }) throws(TemplateError) -> String {
        let interpreter = Interpreter(limits: limits, now: now)
        do {
            return try interpreter.render(body, context: context.mapValues(Value.init))
        } catch let error as TemplateError {
            throw error
        } catch {
            throw .render(message: "\(error)")
        }
    }
}

/// A tokenizer's chat template rendered the way transformers' `apply_chat_template` renders it
/// (`render_jinja_template`): the messages as dicts with `role` and `content`, `tools` and
/// `documents` as None, `add_generation_prompt`, and the tokenizer's named special tokens
/// (`bos_token`, `eos_token`, `unk_token`, `sep_token`, `pad_token`, `cls_token`, `mask_token`,
/// those that are set) as strings.
public struct ChatTemplate: Sendable, Hashable {
    public let template: Template
    /// Name → token text, from tokenizer_config.json / special_tokens_map.json.
    public let specialTokens: [String: String]

    public init(source: String, specialTokens: [String: String] = [:], limits: TemplateLimits = TemplateLimits()) throws(TemplateError) {
        template = try Template(source, limits: limits)
        self.specialTokens = specialTokens
    }

    public var source: String { template.source }

    /// One message: the role as the template sees it (`system`, `user`, `assistant`) and its text.
    public struct Message: Sendable, Hashable {
        public var role: String
        public var content: String
        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
    }

    /// `tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)`.
    public func render(_ messages: [Message], addGenerationPrompt: Bool, extra: [String: TemplateValue] = [:],
                       now: @escaping @Sendable () -> Date = { Date() }) throws(TemplateError) -> String {
        var context: [String: TemplateValue] = [:]
        for (name, token) in specialTokens { context[name] = .string(token) }
        for (name, value) in extra { context[name] = value }
        context["messages"] = .array(messages.map { .object([("role", .string($0.role)), ("content", .string($0.content))]) })
        context["tools"] = TemplateValue.none
        context["documents"] = TemplateValue.none
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        return try template.render(context, now: now)
    }

    public static func == (lhs: ChatTemplate, rhs: ChatTemplate) -> Bool {
        lhs.source.unicodeScalars.elementsEqual(rhs.source.unicodeScalars) && lhs.specialTokens == rhs.specialTokens
            && lhs.template.limits == rhs.template.limits
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(Array(source.utf8))
        hasher.combine(specialTokens)
    }
}
