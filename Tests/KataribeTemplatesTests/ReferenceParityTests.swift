import Foundation
import Testing
import KataribeTemplates
import KataribeTestSupport

/// `Tests/Fixtures/chat-templates/reference.json`, written by tools/fixtures/make_chat_template_fixtures.py
/// with transformers' own rendering code.
enum ChatTemplateReference {
    static let root = TestPaths.fixture("chat-templates")

    static let document: TemplateValue = {
        let data = try! Data(contentsOf: root.appendingPathComponent("reference.json"))
        return try! FixtureJSON.parse(data)
    }()

    /// The wall-clock time the reference's `strftime_now` read, in this machine's time zone.
    static let now: Date = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        return calendar.date(from: DateComponents(year: 2025, month: 3, day: 14, hour: 9, minute: 26, second: 53))!
    }()

    static func messages(_ name: String) -> [ChatTemplate.Message] {
        (document["conversations"]?[name]?.arrayValue ?? []).map {
            ChatTemplate.Message(role: $0["role"]!.stringValue!, content: $0["content"]!.stringValue!)
        }
    }

    static func source(_ file: String) -> String {
        // The file's exact bytes: the template is the text between transformers' quotes.
        String(decoding: try! Data(contentsOf: root.appendingPathComponent(file)), as: UTF8.self)
    }

    static var templateNames: [String] {
        (document["templates"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    static func template(_ name: String) -> TemplateValue {
        (document["templates"]?.arrayValue ?? []).first { $0["name"]?.stringValue == name }!
    }

    static var snippetCount: Int { document["snippets"]?.arrayValue.count ?? 0 }
}

@Suite("Chat templates render byte for byte as transformers renders them")
struct ReferenceParityTests {
    @Test("every collected template, every conversation, with and without the generation prompt",
          arguments: ChatTemplateReference.templateNames)
    func realTemplate(_ name: String) throws {
        let entry = ChatTemplateReference.template(name)
        var tokens: [String: String] = [:]
        if case .object(let members)? = entry["special_tokens"] {
            for (key, value) in members { tokens[key] = value.stringValue }
        }
        let template = try ChatTemplate(source: ChatTemplateReference.source(entry["file"]!.stringValue!), specialTokens: tokens)
        let cases = entry["cases"]!.arrayValue
        #expect(cases.count == 10)
        for reference in cases {
            let conversation = reference["conversation"]!.stringValue!
            let addGenerationPrompt = reference["add_generation_prompt"]!.boolValue!
            let label = "\(name) \(conversation) add_generation_prompt=\(addGenerationPrompt)"
            let result = Result { () throws(TemplateError) -> String in
                try template.render(ChatTemplateReference.messages(conversation), addGenerationPrompt: addGenerationPrompt,
                                    now: { ChatTemplateReference.now })
            }
            if let expected = reference["output"]?.stringValue {
                let rendered = try result.get()
                #expect(Array(rendered.utf8) == Array(expected.utf8), "\(label)\n--- got ---\n\(rendered)\n--- expected ---\n\(expected)")
            } else {
                #expect(reference["error"]?.stringValue == "raised", "\(label)")
                #expect(throws: TemplateError.raised(message: reference["message"]!.stringValue!), "\(label)") { try result.get() }
            }
        }
    }

    @Test("small templates pinning one Jinja behaviour each", arguments: 0..<ChatTemplateReference.snippetCount)
    func snippet(_ index: Int) throws {
        let entry = ChatTemplateReference.document["snippets"]!.arrayValue[index]
        let source = entry["template"]!.stringValue!
        var context: [String: TemplateValue] = [:]
        if case .object(let members)? = entry["context"] {
            for (key, value) in members { context[key] = value }
        }
        let result = Result { () throws(TemplateError) -> String in
            try Template(source).render(context, now: { ChatTemplateReference.now })
        }
        if let expected = entry["output"]?.stringValue {
            // Python prints bound methods and generators with their addresses; there is nothing to match there.
            if expected.contains(" at 0x") { return }
            let rendered = try result.get()
            #expect(Array(rendered.utf8) == Array(expected.utf8), "\(source)\n--- got ---\n\(rendered)\n--- expected ---\n\(expected)")
            return
        }
        let kind = entry["error"]!.stringValue!
        switch result {
        case .success(let text):
            Issue.record("\(source) rendered \(text.debugDescription); transformers raises \(entry["message"]!.stringValue!)")
        case .failure(let error):
            switch (kind, error) {
            case ("syntax", .syntax), ("raised", .raised), ("render", .render), ("render", .limitExceeded), ("render", .syntax):
                if case .raised(let message) = error { #expect(message == entry["message"]!.stringValue!) }
            default:
                Issue.record("\(source): \(error) where transformers raises \(kind): \(entry["message"]!.stringValue!)")
            }
        }
    }
}
