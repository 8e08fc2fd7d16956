import Foundation
import Hummingbird

/// An error answered in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with its
/// HTTP status. Clients (the `openai` library included) read `message` and `code` from it.
public struct APIError: Error, CustomStringConvertible, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    /// The request field at fault, when there is one.
    public var param: String?
    public var code: String?

    public init(status: HTTPResponse.Status, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    /// 400: the request cannot be served as sent.
    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, message: "the request body is larger than the server's limit of \(limit) bytes",
                 type: "invalid_request_error", code: "request_too_large")
    }

    static let missingAPIKey = APIError(
        status: .unauthorized, message: "this server needs an API key: send the header 'Authorization: Bearer KEY'",
        type: "invalid_request_error", code: "invalid_api_key")

    static let wrongAPIKey = APIError(
        status: .unauthorized, message: "incorrect API key", type: "invalid_request_error", code: "invalid_api_key")

    static func queueFull(limit: Int) -> APIError {
        APIError(status: .tooManyRequests,
                 message: "the server is busy: \(limit) requests are already waiting for the model; retry later",
                 type: "rate_limit_error", code: "queue_full")
    }

    static func notFound(_ path: String) -> APIError {
        APIError(status: .notFound, message: "no such endpoint: \(path)", type: "invalid_request_error", code: "not_found")
    }

    static func modelNotFound(_ name: String) -> APIError {
        APIError(status: .notFound, message: "the model '\(name)' does not exist on this server",
                 type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    static func methodNotAllowed(_ method: String, _ path: String) -> APIError {
        APIError(status: .methodNotAllowed, message: "\(method) is not supported on \(path)", type: "invalid_request_error")
    }

    static func server(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error")
    }

    /// The JSON body.
    var body: ErrorBody { ErrorBody(error: .init(message: message, type: type, param: param, code: code)) }

    var response: Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONCoding.encode(body))))
    }
}

/// `{"error": {...}}`; `param` and `code` are written as null when absent, as OpenAI does.
struct ErrorBody: Codable, Sendable, Equatable {
    struct Detail: Codable, Sendable, Equatable {
        var message: String
        var type: String
        var param: String?
        var code: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(message, forKey: .message)
            try c.encode(type, forKey: .type)
            try c.encode(param, forKey: .param)
            try c.encode(code, forKey: .code)
        }
    }

    var error: Detail
}
