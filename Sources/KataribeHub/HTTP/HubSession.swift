import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
        // Left on, the pool keeps retrying a failed connection until the connect timeout and only then fails
        // the request: 10 s of silence per try with no network. Off, the failure comes back at once and
        // RetryBudget decides, with its short budget for connection failures.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
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
                try await check(response, url: current, context: context)
                let body = method == .HEAD ? nil : try await collect(response.body, limit: bodyLimit, url: current)
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
            if response.status.code != 416 {
                try await check(response, url: current, context: context)
            }
            return (response, current)
        }
        throw HubError.tooManyRedirects(url: url)
    }

    /// Retries `operation` on transient failures with backoff, within the retry policy's budget.
    func retrying<T>(url: String, _ operation: () async throws -> T) async throws -> T {
        var budget = RetryBudget(configuration.retry)
        while true {
            do {
                return try await operation()
            } catch let failure as TransientFailure {
                guard let delay = budget.delay(afterConnectFailure: failure.isConnectFailure) else { throw failure.finalError }
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Converts transport errors into `TransientFailure` (retry) and keeps `HubError`/cancellation as they are.
    func classify(_ error: any Error, url: String) -> any Error {
        if error is HubError || error is TransientFailure || error is CancellationError { return error }
        if Task.isCancelled { return CancellationError() }
        let connectTimeout = "no answer to the connection attempt within "
            + String(format: "%g", configuration.metadataTimeout.inSeconds) + " s"
        if let clientError = error as? HTTPClientError {
            if clientError == .connectTimeout {
                return TransientFailure(finalError: .cannotConnect(url: url, reason: connectTimeout), isConnectFailure: true)
            }
            if [HTTPClientError.readTimeout, .deadlineExceeded, .writeTimeout].contains(clientError) {
                return TransientFailure(finalError: .timedOut(url: url))
            }
            if clientError == .cancelled { return CancellationError() }
        }
        if let channelError = error as? ChannelError, case .connectTimeout = channelError {
            return TransientFailure(finalError: .cannotConnect(url: url, reason: connectTimeout), isConnectFailure: true)
        }
        if let reason = connectionFailureReason(error) {
            return TransientFailure(finalError: .cannotConnect(url: url, reason: reason), isConnectFailure: true)
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
    private func check(_ response: HTTPClientResponse, url: String, context: RequestContext) async throws {
        let status = Int(response.status.code)
        guard !(200..<300).contains(status) else { return }
        let headers = response.headers
        let message = await serverMessage(response)
        if status == 408 || status == 429 || (500..<600).contains(status) {
            throw TransientFailure(finalError: .httpStatus(url: url, status: status, message: message))
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
        default: throw HubError.httpStatus(url: url, status: status, message: message)
        }
    }

    /// What the server says went wrong, as huggingface_hub shows it: `X-Error-Message`, else the body's
    /// JSON `error`, else the body's text. Only the first few KiB are read (an error page can be any size;
    /// dropping the rest of the body cancels the request) and the result is made safe to print.
    private func serverMessage(_ response: HTTPClientResponse) async -> String? {
        let readLimit = 4096
        var text = response.headers.first(name: "X-Error-Message") ?? ""
        if text.isEmpty {
            var bytes: [UInt8] = []
            do {
                for try await chunk in response.body {
                    bytes += chunk.readableBytesView.prefix(readLimit - bytes.count)
                    if bytes.count >= readLimit { break }
                }
            } catch {
                // A body that breaks off still says what it said so far.
            }
            struct HubErrorBody: Decodable { let error: String }
            if let body = try? JSONDecoder().decode(HubErrorBody.self, from: Data(bytes)) {
                text = body.error
            } else {
                text = String(decoding: bytes, as: UTF8.self)
            }
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : ServerText.sanitized(trimmed)
    }
}

/// A failure worth retrying; `finalError` is what the user sees once retries are exhausted.
struct TransientFailure: Error {
    let finalError: HubError
    /// No connection could be made: retried only briefly (`RetryPolicy.maxConnectRetries`).
    var isConnectFailure = false
}

/// Why no connection could be made, when that is what `error` says: a host name that does not resolve, or
/// an address that refuses, cannot be routed to or does not exist here. NIOPosix reports these inside its
/// `NIOConnectionError`; KataribeHub does not depend on NIOPosix directly, so that error's fields are read
/// by reflection, while the errors inside it are NIOCore types.
func connectionFailureReason(_ error: any Error) -> String? {
    if let unknown = error as? SocketAddressError.UnknownHost {
        return "the host name '\(unknown.host)' could not be resolved: \(unknown.errorDescription)"
    }
    if let ioError = error as? IOError, connectionErrnos.contains(ioError.errnoCode) {
        return FileSystem.errnoText(ioError.errnoCode)
    }
    guard String(describing: type(of: error)) == "NIOConnectionError" else { return nil }
    var host = ""
    var dnsError: (any Error)?
    var attempts: [any Error] = []
    for child in Mirror(reflecting: error).children {
        switch child.label {
        case "host": host = child.value as? String ?? ""
        case "dnsAError", "dnsAAAAError": dnsError = dnsError ?? unwrapOptionalError(child.value)
        case "connectionErrors":
            for failure in Mirror(reflecting: child.value).children {
                for field in Mirror(reflecting: failure.value).children where field.label == "error" {
                    if let inner = unwrapOptionalError(field.value) { attempts.append(inner) }
                }
            }
        default: break
        }
    }
    if let refusal = attempts.lazy.compactMap(connectionFailureReason).first { return refusal }
    if let attempt = attempts.first { return String(describing: attempt) }
    if let dnsError, let reason = connectionFailureReason(dnsError) { return reason }
    // Neither lookup produced an address to try.
    return "the host name '\(host)' could not be resolved" + (dnsError.map { " (\($0))" } ?? "")
}

private func unwrapOptionalError(_ value: Any) -> (any Error)? {
    if let error = value as? any Error { return error }
    let mirror = Mirror(reflecting: value)
    guard mirror.displayStyle == .optional, let some = mirror.children.first else { return nil }
    return some.value as? any Error
}

/// errno values that mean the far end cannot be reached at all, as opposed to a connection that broke.
private let connectionErrnos: Set<Int32> = [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ENETDOWN, EHOSTDOWN]

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
