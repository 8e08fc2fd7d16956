/// Why a sequence stopped.
public enum StopReason: String, Codable, Sendable, CaseIterable {
    /// One of the eos ids was generated (it is part of the returned tokens, as in transformers).
    case eos
    /// `max_new_tokens` (or `max_length`) was reached.
    case length
    /// The decoded text came to contain one of the stop strings.
    case stopString = "stop_string"
    /// The caller cancelled.
    case cancelled
}
