import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The answer to a metadata request: status, headers and the URL that produced them (after same-origin
/// redirects).
struct ResponseHead: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let url: String
}

/// What a request was for, to turn an HTTP status into the error a user understands.
enum RequestContext: Sendable {
    case modelInfo(repo: RepoID, revision: String)
    case file(repo: RepoID, revision: String, path: String)
}

/// One HTTP client for the length of an operation. Redirects are followed by hand so the token only ever
/// goes to the configured endpoint's origin: a signed CDN URL on another host never sees it.
final class HubSession: Sendable {
    let configuration: HubConfiguration
    private let client: HTTPClient
    private let endpointOrigin: Origin?

    private static let maxRedirects = 10

    private init(configuration: HubConfiguration) {
        self.configuration = configuration
        endpointOrigin = Origin(configuration.endpoint)
        var clientConfiguration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: configuration.metadataTimeout.timeAmount, read: configuration.readTimeout.timeAmount),
            decompression: .disabled
        )
        clientConfiguration.connectionPool.idleTimeout = .seconds(30)
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)
    }

    /// Runs `body` with a session and always shuts its client down afterwards.
    static func with<Result: Sendable>(
        _ configuration: HubConfiguration, _ body: (HubSession) async throws -> Result
    ) async throws -> Result {
        let session = HubSession(configuration: configuration)
        do {
            let result = try await body(session)
            try? await session.client.shutdown()
            return result
        } catch {
            try? await session.client.shutdown()
            throw error
        }
    }

    // MARK: Metadata (API calls and HEAD on resolve URLs)

    /// GET or HEAD with retries. Redirects within the same origin are followed (a renamed repository);
    /// a HEAD stops at a redirect to another origin, whose headers already carry the file's metadata.
    func metadata(_ method: HTTPMethod, _ url: String, context: RequestContext, bodyLimit: Int = 16 << 20) async throws -> (ResponseHead, ByteBuffer?) {
        try await retrying(url: url) {
            var current = url
            for _ in 0...Self.maxRedirects {
                var request = HTTPClientRequest(url: current)
                request.method = method
                request.headers = headers(for: current)
                let response = try await execute(request, timeout: configuration.metadataTimeout, url: current)
                let status = Int(response.status.code)
                if let target = redirectTarget(response, from: current) {
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    if method == .HEAD, Origin(target) != Origin(current) {
                        return (ResponseHead(status: status, headers: response.headers, url: current), nil)
                    }
                    current = target
                    continue
                }
                let body = method == .HEAD ? nil : try await collect(response.body, limit: bodyLimit, url: current)
                try check(status: status, headers: response.headers, url: current, context: context)
                return (ResponseHead(status: status, headers: response.headers, url: current), body)
            }
            throw HubError.tooManyRedirects(url: url)
        }
    }

    // MARK: File transfer

    /// Opens a GET of `url` from byte `offset` (a Range request when > 0), following redirects to any host.
    /// The caller streams the body. No retries here: the downloader retries and resumes.
    func openTransfer(_ url: String, from offset: Int64, context: RequestContext) async throws -> (HTTPClientResponse, String) {
        var current = url
        for _ in 0...Self.maxRedirects {
            var request = HTTPClientRequest(url: current)
            request.method = .GET
            request.headers = headers(for: current)
            if offset > 0 { request.headers.replaceOrAdd(name: "Range", value: "bytes=\(offset)-") }
            let response = try await execute(request, timeout: configuration.readTimeout, url: current)
            if let target = redirectTarget(response, from: current) {
                _ = try? await response.body.collect(upTo: 1 << 20)
                current = target
                continue
            }
            let status = Int(response.status.code)
            if status != 416 {
                do {
                    try check(status: status, headers: response.headers, url: current, context: context)
                } catch {
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    throw error
                }
            }
            return (response, current)
        }
        throw HubError.tooManyRedirects(url: url)
    }

    /// Retries `operation` on transient failures with exponential backoff.
    func retrying<T>(url: String, _ operation: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await operation()
            } catch let failure as TransientFailure {
                guard attempt < configuration.retry.maxRetries else { throw failure.finalError }
                try await Task.sleep(for: configuration.retry.delay(afterAttempt: attempt))
                attempt += 1
            }
        }
    }

    /// Converts transport errors into `TransientFailure` (retry) and keeps `HubError`/cancellation as they are.
    func classify(_ error: any Error, url: String) -> any Error {
        if error is HubError || error is TransientFailure || error is CancellationError { return error }
        if Task.isCancelled { return CancellationError() }
        if let clientError = error as? HTTPClientError {
            if [HTTPClientError.readTimeout, .connectTimeout, .deadlineExceeded, .writeTimeout].contains(clientError) {
                return TransientFailure(finalError: .timedOut(url: url))
            }
            if clientError == .cancelled { return CancellationError() }
        }
        if let channelError = error as? ChannelError, case .connectTimeout = channelError {
            return TransientFailure(finalError: .timedOut(url: url))
        }
        return TransientFailure(finalError: .network(url: url, reason: String(describing: error)))
    }

    // MARK: Helpers

    private func execute(_ request: HTTPClientRequest, timeout: Duration, url: String) async throws -> HTTPClientResponse {
        do {
            return try await client.execute(request, timeout: timeout.timeAmount)
        } catch {
            throw classify(error, url: url)
        }
    }

    private func collect(_ body: HTTPClientResponse.Body, limit: Int, url: String) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch {
            throw classify(error, url: url)
        }
    }

    func headers(for url: String) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "User-Agent", value: configuration.userAgent)
        // The real size of the file, not of a compressed transfer.
        headers.add(name: "Accept-Encoding", value: "identity")
        if let token = configuration.token, sendsToken(to: url) {
            headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        return headers
    }

    func sendsToken(to url: String) -> Bool {
        configuration.token != nil && endpointOrigin != nil && Origin(url) == endpointOrigin
    }

    private func redirectTarget(_ response: HTTPClientResponse, from url: String) -> String? {
        guard [301, 302, 303, 307, 308].contains(Int(response.status.code)),
              let location = response.headers.first(name: "Location"),
              let target = URL(string: location, relativeTo: URL(string: url))?.absoluteString
        else { return nil }
        return target
    }

    /// Maps an error status to the error a user can act on; transient ones (408, 429, 5xx) are retried.
    private func check(status: Int, headers: HTTPHeaders, url: String, context: RequestContext) throws {
        guard !(200..<300).contains(status) else { return }
        if status == 408 || status == 429 || (500..<600).contains(status) {
            throw TransientFailure(finalError: .httpStatus(url: url, status: status))
        }
        let tokenSent = sendsToken(to: url)
        let (repo, revision, path): (RepoID, String, String?) = switch context {
        case .modelInfo(let repo, let revision): (repo, revision, nil)
        case .file(let repo, let revision, let path): (repo, revision, path)
        }
        switch headers.first(name: "X-Error-Code") {
        case "RepoNotFound": throw HubError.repositoryNotFound(repo: repo.rawValue, tokenSent: tokenSent)
        case "GatedRepo": throw HubError.accessDenied(repo: repo.rawValue, tokenSent: tokenSent)
        case "RevisionNotFound": throw HubError.revisionNotFound(repo: repo.rawValue, revision: revision)
        case "EntryNotFound":
            throw HubError.fileNotFound(repo: repo.rawValue, revision: revision, path: path ?? "")
        default: break
        }
        switch status {
        case 401: throw HubError.authenticationRequired(repo: repo.rawValue, tokenSent: tokenSent)
        case 403: throw HubError.accessDenied(repo: repo.rawValue, tokenSent: tokenSent)
        case 404:
            if let path { throw HubError.fileNotFound(repo: repo.rawValue, revision: revision, path: path) }
            throw HubError.repositoryNotFound(repo: repo.rawValue, tokenSent: tokenSent)
        default: throw HubError.httpStatus(url: url, status: status)
        }
    }
}

/// A failure worth retrying; `finalError` is what the user sees once retries are exhausted.
struct TransientFailure: Error {
    let finalError: HubError
}

/// scheme, host and port: the unit the token is bound to.
struct Origin: Equatable {
    let scheme: String
    let host: String
    let port: Int

    init?(_ string: String) {
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased()
        else { return nil }
        self.scheme = scheme
        self.host = host
        port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : 0)
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }
}
