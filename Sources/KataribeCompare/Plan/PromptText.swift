import KataribeGeneration

/// What a model is sent for a suite prompt, and how its output is shown in reports.
public enum PromptText {
    /// The prompt as sent: the `completion` text for plain models, the `instruction` as the user's turn
    /// of rinna's chat format (ending with the `システム: ` cue) for chat models. Nil when the suite
    /// prompt lacks the text the format needs.
    public static func asSent(_ prompt: SuitePrompt, format: PromptFormat) -> String? {
        switch format {
        case .plain:
            return prompt.completion
        case .rinnaChat:
            return prompt.instruction.map { RinnaChatFormat.prompt(for: Conversation([ChatTurn(.user, $0)])) }
        }
    }

    /// The output as the model card prints it: the prompt followed by the continuation when the card
    /// decodes the whole sequence (open-calm, rinna base), the reply with `<NL>` turned into newlines and
    /// a trailing `</s>` removed for rinna's chat format.
    public static func display(output: String, sentPrompt: String, preset: ModelPreset) -> String {
        switch preset.promptFormat {
        case .plain:
            return preset.decodeIncludesPrompt ? sentPrompt + output : output
        case .rinnaChat:
            return RinnaChatFormat.displayText(fromReply: output)
        }
    }
}
