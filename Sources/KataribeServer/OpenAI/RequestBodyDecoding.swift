import Foundation

/// The request bodies the server accepts (completions, chat, /tokenize, /detokenize), decoded exactly as the endpoints decode them before any
/// model work. Public so the fuzzing harness (`kataribe-fuzz http-body`) can drive this path with
/// hostile bodies without starting a server.
public enum RequestBodyDecoding {
    public enum Endpoint: Sendable, CaseIterable {
        case completions, chatCompletions, tokenize, detokenize
    }

    /// nil when the body decodes, else the message a client would get with its 400.
    public static func problem(with body: Data, for endpoint: Endpoint) -> String? {
        do {
            switch endpoint {
            case .completions: _ = try JSONCoding.decodeRequest(CompletionRequest.self, from: body)
            case .chatCompletions: _ = try JSONCoding.decodeRequest(ChatCompletionRequest.self, from: body)
            case .tokenize: _ = try JSONCoding.decodeRequest(TokenizerEndpoints.TokenizeBody.self, from: body)
            case .detokenize: _ = try JSONCoding.decodeRequest(TokenizerEndpoints.DetokenizeBody.self, from: body)
            }
            return nil
        } catch {
            return error.message
        }
    }
}
