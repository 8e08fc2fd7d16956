import Foundation
import Hummingbird
import Logging
import Synchronization

/// One log line per request, once its response is completely written (a stream when its last event
/// is sent): method, path, status, duration, and the tokens when the request generated any, e.g.
///
///     POST /v1/chat/completions 200 1.84 s, 23 prompt + 64 completion tokens
///
/// It runs outside every other middleware, so refusals (401, 404, 429) are logged with their status.
/// What it costs a request: a clock reading, a closure around the response body, and the line.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let tokens = RequestTokens()
        let method = request.method.rawValue, path = request.uri.path
        var response: Response
        do {
            response = try await RequestTokens.$current.withValue(tokens) { try await next(request, context) }
        } catch {
            // Only an error no middleware turned into a response gets here; Hummingbird answers it.
            logger.info("\(RequestLogLine.text(method: method, path: path, status: nil, elapsed: .now - start, tokens: nil))")
            throw error
        }
        let status = response.status.code
        let body = response.body
        let logger = self.logger
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer {
                logger.info("\(RequestLogLine.text(method: method, path: path, status: status, elapsed: .now - start, tokens: tokens.value))")
            }
            try await body.write(writer)
        }
        return response
    }
}

/// The tokens a request generated, filled in where generation finishes (`GenerationRunner.run`
/// and the echo path), read by `RequestLogMiddleware` once the response is written. Streamed
/// responses generate after the handler has returned, so `Endpoints.streaming` carries the
/// handler's value into the response body.
final class RequestTokens: Sendable {
    @TaskLocal static var current: RequestTokens?

    private let counts = Mutex<Usage?>(nil)

    var value: Usage? { counts.withLock { $0 } }

    func add(_ usage: Usage) {
        counts.withLock { counts in
            counts = Usage(promptTokens: (counts?.promptTokens ?? 0) + usage.promptTokens,
                           completionTokens: (counts?.completionTokens ?? 0) + usage.completionTokens)
        }
    }
}

enum RequestLogLine {
    static func text(method: String, path: String, status: Int?, elapsed: Duration, tokens: Usage?) -> String {
        let (seconds, attoseconds) = elapsed.components
        let total = Double(seconds) + Double(attoseconds) * 1e-18
        let time = total < 1 ? "\(Int((total * 1000).rounded())) ms" : String(format: "%.2f s", total)
        var line = "\(method) \(shown(path)) \(status.map(String.init) ?? "-") \(time)"
        if let tokens { line += ", \(tokens.promptTokens) prompt + \(tokens.completionTokens) completion tokens" }
        return line
    }

    /// The path as the client sent it, bounded, with control characters shown as `?` so a request
    /// cannot write escape sequences into the server's terminal or log.
    static func shown(_ path: String) -> String {
        var out = ""
        for (count, scalar) in path.unicodeScalars.enumerated() {
            if count == 200 { return out + "…" }
            out.unicodeScalars.append(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) ? "?" : scalar)
        }
        return out
    }
}
