import Foundation
import Testing
import KataribeTemplates

/// Templates come from downloaded tokenizer_config.json files: whatever their text, parsing and
/// rendering end in a typed error, never a stack overflow, a hang or unbounded memory.
@Suite("Hostile chat templates end in typed errors")
struct HostileTemplateTests {
    func nestingError(_ source: String, context: [String: TemplateValue] = [:]) -> Bool {
        do {
            _ = try Template(source).render(context)
            return false
        } catch {
            if case .nestingTooDeep = error { return true }
            return false
        }
    }

    @Test("deeply nested brackets, blocks, operators, filters and nots are refused while parsing")
    func deepNesting() {
        let n = 20_000  // far past the limit, and under the 1 MiB source limit
        let cases: [(String, String)] = [
            ("parentheses", "{{ " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n) + " }}"),
            ("lists", "{{ " + String(repeating: "[", count: n) + String(repeating: "]", count: n) + " }}"),
            ("dicts", "{{ " + String(repeating: "{'a': ", count: n) + "1" + String(repeating: "}", count: n) + " }}"),
            ("ifs", String(repeating: "{% if true %}", count: n) + String(repeating: "{% endif %}", count: n)),
            ("fors", String(repeating: "{% for x in [1] %}", count: n) + String(repeating: "{% endfor %}", count: n)),
            ("a + chain", "{{ 1" + String(repeating: " + 1", count: n) + " }}"),
            ("a filter chain", "{{ x" + String(repeating: "|trim", count: n) + " }}"),
            ("an attribute chain", "{{ x" + String(repeating: ".a", count: n) + " }}"),
            ("nots", "{{ " + String(repeating: "not ", count: n) + "x }}"),
            ("minus signs", "{{ " + String(repeating: "-", count: n) + "1 }}"),
            ("inline ifs", "{{ a" + String(repeating: " if b else a", count: n) + " }}"),
        ]
        for (name, source) in cases {
            #expect(nestingError(source), "\(name)")
        }
    }

    @Test("a template nested up to the limit still renders (the stack holds it)")
    func nestingAtTheLimit() async throws {
        let depth = TemplateLimits().maximumNesting - 4
        let parens = "{{ " + String(repeating: "(", count: depth) + "1" + String(repeating: ")", count: depth) + " }}"
        #expect(try Template(parens).render([:]) == "1")
        let blocks = String(repeating: "{% if true %}", count: depth / 2) + "x" + String(repeating: "{% endif %}", count: depth / 2)
        #expect(try Template(blocks).render([:]) == "x")
        // The same on a task of the cooperative pool, whose threads may have smaller stacks.
        let rendered = try await Task.detached { try Template(parens).render([:]) }.value
        #expect(rendered == "1")
    }

    @Test("endless macro recursion stops at the call-depth limit, deep bodies at the render-depth limit")
    func recursion() async {
        #expect(nestingError("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"))
        #expect(nestingError("{% macro f(n) %}{{ g(n) }}{% endmacro %}{% macro g(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"))
        // Each call nests its body as deep as parsing allows; the render-depth bound stops the sum
        // before the stack does, also on the cooperative pool's threads.
        let body = String(repeating: "{% if true %}", count: 20) + "{{ " + String(repeating: "(", count: 20) + "f()"
            + String(repeating: ")", count: 20) + " }}" + String(repeating: "{% endif %}", count: 20)
        let source = "{% macro f() %}" + body + "{% endmacro %}{{ f() }}"
        #expect(nestingError(source))
        let detached = await Task.detached { self.nestingError(source) }.value
        #expect(detached)
    }

    func limitError(_ source: String, limits: TemplateLimits = TemplateLimits()) -> Bool {
        do {
            _ = try Template(source, limits: limits).render([:])
            return false
        } catch {
            if case .limitExceeded = error { return true }
            return false
        }
    }

    @Test("work, output and built values are bounded")
    func resourceLimits() {
        // Doubling a string: 2^40 characters if nothing stopped it.
        #expect(limitError("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}"))
        #expect(limitError("{% set ns = namespace(s=[1]) %}{% for i in range(40) %}{% set ns.s = ns.s * 2 %}{% endfor %}"))
        #expect(limitError("{{ 'x' * 100000000 }}"))
        // 10^10 loop turns.
        #expect(limitError("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"))
        #expect(limitError("{% for a in range(100000) %}{{ 'output' * 100 }}{% endfor %}"))
        #expect(limitError("{{ range(1000000) | list }}"))
        #expect(limitError(String(repeating: "x", count: 100), limits: TemplateLimits(maximumSourceLength: 50)))
        // A namespace that holds itself: printing it would never end.
        #expect(limitError("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"))
        #expect(limitError("{% set ns = namespace() %}{% set ns.a = ns %}{% set ns.b = ns %}{{ ns }}"))
        #expect(limitError("{% set ns = namespace(x=[]) %}{% for i in range(100) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}"))
        #expect(limitError("{{ 9223372036854775807 + 1 }}"))
    }

    @Test("malformed text is a syntax error with its line")
    func syntaxErrors() {
        for source in ["{% if x %}", "{{ x", "{% endfor %}", "{# unclosed", "{{ (1 }}", "{{ ] }}", "{% set 1 = 2 %}",
                       "{{ '\\ud800' }}", "{{ 'unterminated }}", "{{ x|nosuchfilter }}", "{% include 'x' %}",
                       "{% for x in y recursive %}{% endfor %}", "{{ f(*args) }}", "{% break %}", "\n\n{{ @ }}"] {
            #expect(throws: TemplateError.self, "\(source)") { try Template(source) }
        }
        #expect(throws: TemplateError.syntax(message: "unexpected char '@' at 5", line: 3)) { try Template("\n\n{{ @ }}") }
    }

    @Test("raise_exception becomes TemplateError.raised with the template's message")
    func raised() throws {
        let template = try! ChatTemplate(source: "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok")
        #expect(throws: TemplateError.raised(message: "System role not supported")) {
            try template.render([.init(role: "system", content: "s"), .init(role: "user", content: "u")], addGenerationPrompt: true)
        }
        #expect(try template.render([.init(role: "user", content: "u")], addGenerationPrompt: true) == "ok")
    }

    @Test("the chat context: tools and documents are None, special tokens and add_generation_prompt are set")
    func chatContext() throws {
        let template = try ChatTemplate(
            source: "{{ tools is none }}{{ documents is none }}{{ tools is defined }}{{ bos_token }}{{ eos_token }}{{ add_generation_prompt }}{{ pad_token is defined }}",
            specialTokens: ["bos_token": "<s>", "eos_token": "</s>"])
        #expect(try template.render([], addGenerationPrompt: true) == "TrueTrueTrue<s></s>TrueFalse")
    }
}
