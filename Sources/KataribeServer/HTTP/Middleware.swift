import Foundation
import Hummingbird

/// Answers every failure in OpenAI's error shape: `APIError`s as they are, Hummingbird's own errors
/// (unknown route, wrong method) with their status, anything else as a 500.
struct OpenAIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as HTTPError {
            switch error.status {
            case .notFound: return APIError.notFound(request.uri.path).response
            case .methodNotAllowed: return APIError.methodNotAllowed(request.method.rawValue, request.uri.path).response
            case .contentTooLarge: return APIError(status: error.status, message: error.body ?? "request body too large",
                                                   type: "invalid_request_error", code: "request_too_large").response
            default:
                let type = error.status.code >= 500 ? "server_error" : "invalid_request_error"
                return APIError(status: error.status, message: error.body ?? error.status.reasonPhrase, type: type).response
            }
        } catch {
            return APIError.server("internal error: \(error)").response
        }
    }
}

/// With an API key configured, every `/v1` request must carry `Authorization: Bearer KEY`.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1") else { return try await next(request, context) }
        guard let header = request.headers[.authorization] else { throw APIError.missingAPIKey }
        let prefix = "Bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix.lowercased() else {
            throw APIError.missingAPIKey
        }
        guard Self.constantTimeEqual(Array(header.utf8.dropFirst(prefix.utf8.count)), Array(key.utf8)) else {
            throw APIError.wrongAPIKey
        }
        return try await next(request, context)
    }

    /// Compares without returning early, so response timing says nothing about how much of a guess was right.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
