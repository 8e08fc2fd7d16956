import KataribeApp
import KataribeGeneration

/// What a model is sent for a suite prompt, and how its output is shown in reports.
public enum PromptText {
    /// The suite prompt field a format takes: a format with turns gets the `instruction` as the
    /// user's turn, a completion format the `completion` text to continue.
    public static func field(for format: PromptFormat) -> String {
        format.hasTurns ? "instruction" : "completion"
    }

    /// The text of `field(for: format)`, nil when the suite prompt lacks it.
    public static func text(of prompt: SuitePrompt, for format: PromptFormat) -> String? {
        format.hasTurns ? prompt.instruction : prompt.completion
    }

    /// The prompt as sent: the field's text written by the format (for rinna's chat format, the
    /// instruction as the user's turn ending with the `システム: ` cue). For `template` (the model's
    /// own chat template, known only once the model loads) it is the instruction as typed, which the
    /// local backend renders with the loaded template. Nil when the suite prompt lacks the text the
    /// format needs.
    public static func asSent(_ prompt: SuitePrompt, format: PromptFormat) -> String? {
        text(of: prompt, for: format).map(format.prompt(forText:))
    }

    /// The output as the model card prints it: the format's reply markers applied (rinna: `<NL>` as
    /// newlines, a trailing `</s>` removed), after the prompt when the card decodes the whole
    /// sequence (open-calm, rinna base). A chat reply answers its prompt rather than continuing it,
    /// so for formats with turns the prompt is never put in front.
    public static func display(output: String, sentPrompt: String, preset: ModelPreset) -> String {
        let reply = preset.promptFormat.displayText(fromReply: output)
        return preset.decodeIncludesPrompt && !preset.promptFormat.hasTurns ? sentPrompt + reply : reply
    }
}
