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

/// With an API key configured, every request must carry `Authorization: Bearer KEY`, except `/health`.
///
/// The rule is deny-by-default on purpose: the router ignores empty path segments (`//v1/models`
/// reaches `/v1/models`), so checking for a protected prefix let other spellings of the same route
/// through. Only a path that can mean nothing but `/health` is exempt; everything else, unknown
/// routes included, answers 401 without the key, so not even a 404 tells a stranger what exists.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.isHealthCheck(request.uri.path) { return try await next(request, context) }
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

    /// True when `path` names `/health` however it is spelled: empty and `.` segments are dropped and
    /// percent-escapes decoded, so `//health`, `/./health/` and `/%68ealth` count too. Normalising
    /// generously is safe here because the result only ever widens what is *exempt* to spellings of
    /// `/health` itself, which route to `/health` or nowhere; `..` is not resolved, so
    /// `/v1/../health` stays protected whatever the router makes of it.
    static func isHealthCheck(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
            .map { String($0).removingPercentEncoding ?? String($0) }
            .filter { $0 != "." }
        return segments == ["health"]
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
