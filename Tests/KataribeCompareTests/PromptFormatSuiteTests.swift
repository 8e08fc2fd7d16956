import KataribeCompare
import KataribeGeneration
import Testing

@Suite("Prompt formats in suites")
struct PromptFormatSuiteTests {
    let prompts = "prompts:\n  - {id: p, completion: 昔々, instruction: \"物語を\\n書いて\"}\n"

    @Test("prompt_format names a format; an unknown name lists the names (template added), with a did-you-mean")
    func names() throws {
        let suite = try SuiteLoader.parse(yaml: "models:\n  - {model: demo-calm, prompt_format: rinna-chat}\n  - {model: demo-rinna-sft, prompt_format: plain}\n" + prompts)
        #expect(suite.models.map(\.preset.promptFormat) == [.rinnaChat, .plain])
        let error = try #require(parseError("models:\n  - {model: demo-calm, prompt_format: rinna_chat}\n" + prompts))
        #expect(error.kind == .invalidValue(value: "\"rinna_chat\"", reason: "expected one of plain, rinna-chat, template (did you mean \"rinna-chat\"?)"))
        #expect(error.keyPath == "models[0].prompt_format")
    }

    private func parseError(_ yaml: String) -> CompareInputError? {
        do {
            _ = try SuiteLoader.parse(yaml: yaml)
            return nil
        } catch {
            return error
        }
    }

    @Test("a format with turns is sent the instruction as the user's turn; a completion format the completion")
    func sentText() throws {
        let suite = try SuiteLoader.parse(yaml: "models:\n  - model: demo-calm\n  - model: demo-rinna-sft\n" + prompts)
        let plan = try ComparePlan(suite: suite)
        #expect(plan.cell(model: "demo-calm", prompt: "p")?.prompt == "昔々")
        #expect(plan.cell(model: "demo-rinna-sft", prompt: "p")?.prompt == "ユーザー: 物語を<NL>書いて<NL>システム: ")
        #expect(PromptText.field(for: .plain) == "completion" && PromptText.field(for: .rinnaChat) == "instruction")
    }
}
