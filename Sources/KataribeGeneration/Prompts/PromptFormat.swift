/// How a model expects its input text.
public enum PromptFormat: String, Codable, Sendable, CaseIterable {
    /// The text is the prompt; the model continues it.
    case plain
    /// rinna's instruction format (`ユーザー`/`システム` turns joined by `<NL>`); see `RinnaChatFormat`.
    case rinnaChat = "rinna-chat"
}

/// A prompt that cannot be read as the expected format.
public enum PromptFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    case missingResponseCue(expectedSuffix: String)
    case unknownSpeaker(line: String)

    public var description: String {
        switch self {
        case let .missingResponseCue(suffix):
            return "a rinna chat prompt must end with \"\(suffix)\""
        case let .unknownSpeaker(line):
            return "a rinna chat turn must start with \"ユーザー: \" or \"システム: \", got \"\(line)\""
        }
    }
}
