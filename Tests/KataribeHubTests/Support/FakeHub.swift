import Foundation
import KataribeHub
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A repository the fake hub serves: files at one commit, reachable through branch/tag names.
struct FakeRepo: Sendable {
    var id: String
    var commit: String
    var files: [String: [UInt8]] { didSet { etags = Self.etags(files, lfs: lfs) } }
    /// Files stored with git LFS: served through a redirect to the CDN, ETag = sha256.
    let lfs: Set<String>
    var refs: [String: String]
    /// Computed once: hashing on every request would stall the event loops the tests share.
    private var etags: [String: String]

    init(id: String, commit: String = FakeRepo.commitA, files: [String: [UInt8]], lfs: Set<String> = [], refs: [String: String]? = nil) {
        self.id = id
        self.commit = commit
        self.files = files
        self.lfs = lfs
        self.refs = refs ?? ["main": commit]
        etags = Self.etags(files, lfs: lfs)
    }

    private static func etags(_ files: [String: [UInt8]], lfs: Set<String>) -> [String: String] {
        files.reduce(into: [:]) { result, entry in
            result[entry.key] = lfs.contains(entry.key) ? SHA256.hash(entry.value) : SHA1.gitBlobID(of: entry.value)
        }
    }

    static let commitA = "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd"
    static let commitB = "1111111111222222222233333333334444444444"

    func resolve(_ revision: String) -> String? { revision == commit ? commit : refs[revision] }
    func etag(_ path: String) -> String? { etags[path] }
}

/// What a request looked like, for assertions (`Authorization` never reaching the CDN, Range on resume).
struct RecordedRequest: Sendable {
    enum Server: Sendable { case hub, cdn }
    let server: Server
    let method: String
    let uri: String
    let headers: HTTPHeaders
}

/// Misbehaviour injected for a file (keyed by repository path), applied `times` times then gone.
enum Fault: Sendable {
    /// Sends the head and the first bytes of the body, then closes the connection.
    case dropAfter(bytes: Int)
    /// Sends the first bytes, then goes silent for `seconds` and closes.
    case stallAfter(bytes: Int, seconds: Double)
    /// Waits before answering at all (a slow but working server).
    case delay(seconds: Double)
    /// Serves the file with one byte flipped.
    case corrupt
    /// Answers this status (with these headers) instead of the file.
    case status(Int, headers: [String: String])
    /// Announces this size in X-Linked-Size (HEAD) instead of the real one.
    case announcedSize(Int64)
    /// Answers a Range request with the whole file (200), as some proxies do.
    case ignoreRange
    /// Answers a Range request with 206 and a body and `Content-Range` that start this many bytes before
    /// the requested offset (a broken cache in front of the CDN). Requests without Range get the file.
    case rangeStartsEarly(by: Int)
    /// Answers every GET, with or without Range, with 206, this `Content-Range` and the whole file as body.
    case contentRange(String)
    /// Answers every GET, with or without Range, with 416 Range Not Satisfiable.
    case notSatisfiable
}

/// A loopback HTTP server speaking the hub protocol (model info, resolve with redirect to a second
/// "CDN" port, HEAD, Range), with injectable faults. Binds 127.0.0.1 on ephemeral ports only.
final class FakeHub: Sendable {
    private struct State {
        var repos: [String: FakeRepo] = [:]
        var requests: [RecordedRequest] = []
        var faults: [String: (fault: Fault, times: Int)] = [:]
        var apiFault: (status: Int, headers: [String: String], body: [UInt8])?
        var cdnHops = 0
        var cdnOrigin: String?
        var upperCaseETags = false
        var announcedETags: [String] = []
        var children: [any Channel] = []
    }

    private let state = NIOLockedValueBox(State())
    private let servers = NIOLockedValueBox<[any Channel]>([])
    private let ports = NIOLockedValueBox<(hub: Int, cdn: Int)>((0, 0))

    var endpoint: String { "http://127.0.0.1:\(ports.withLockedValue { $0.hub })" }
    var cdnOrigin: String {
        state.withLockedValue { $0.cdnOrigin } ?? "http://127.0.0.1:\(ports.withLockedValue { $0.cdn })"
    }

    private init() {}

    static func start(_ repos: [FakeRepo]) async throws -> FakeHub {
        let hub = FakeHub()
        hub.state.withLockedValue { state in for repo in repos { state.repos[repo.id] = repo } }
        let hubChannel = try await hub.bind(.hub)
        let cdnChannel = try await hub.bind(.cdn)
        hub.servers.withLockedValue { $0 = [hubChannel, cdnChannel] }
        hub.ports.withLockedValue { $0 = (hubChannel.localAddress?.port ?? 0, cdnChannel.localAddress?.port ?? 0) }
        return hub
    }

    func stop() async {
        let channels = servers.withLockedValue { $0 } + state.withLockedValue { $0.children }
        for channel in channels { try? await channel.close() }
    }

    // MARK: Test controls

    func inject(_ fault: Fault, for path: String, times: Int = 1) {
        state.withLockedValue { $0.faults[path] = (fault, times) }
    }

    /// Every model-info request answers this status.
    func failModelInfo(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        state.withLockedValue { $0.apiFault = (status, headers, body) }
    }

    /// LFS files redirect to this origin instead of the fake CDN (a CDN that cannot be reached).
    func redirectCDN(to origin: String) { state.withLockedValue { $0.cdnOrigin = origin } }

    /// HEAD answers announce every ETag in upper case, as a non-hub server might.
    func announceUpperCaseETags() { state.withLockedValue { $0.upperCaseETags = true } }

    /// LFS downloads go through this many extra redirects on the CDN before the bytes.
    func setCDNHops(_ hops: Int) { state.withLockedValue { $0.cdnHops = hops } }

    func update(_ repo: FakeRepo) { state.withLockedValue { $0.repos[repo.id] = repo } }

    var requests: [RecordedRequest] { state.withLockedValue { $0.requests } }

    /// The ETags resolve answers carried (`X-Linked-Etag` for LFS files, `ETag` for git ones), as sent.
    var announcedETags: [String] { state.withLockedValue { $0.announcedETags } }

    /// GETs that transferred this file's bytes (resolve for git files, CDN for LFS ones).
    func contentRequests(_ path: String, in repo: FakeRepo) -> [RecordedRequest] {
        guard let etag = repo.etag(path) else { return [] }
        return requests.filter { request in
            request.method == "GET" && (
                (request.server == .cdn && request.uri.contains("/cdn/\(etag)"))
                    || (request.server == .hub && request.uri.contains("/resolve/") && request.uri.hasSuffix("/" + path)
                        && !repo.lfs.contains(path))
            )
        }
    }

    // MARK: Serving

    private func bind(_ server: RecordedRequest.Server) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                state.withLockedValue { $0.children.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(FakeHubHandler(hub: self, server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    /// The reply for one request; called on the event loop, so it only touches locked state.
    fileprivate func reply(to head: HTTPRequestHead, on server: RecordedRequest.Server) -> Reply {
        state.withLockedValue { state in
            state.requests.append(RecordedRequest(server: server, method: "\(head.method)", uri: head.uri, headers: head.headers))
        }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0.removingPercentEncoding ?? String($0) }
        return server == .cdn ? cdnReply(segments, head: head) : hubReply(segments, head: head)
    }

    private func hubReply(_ segments: [String], head: HTTPRequestHead) -> Reply {
        // /api/models/{org}/{name}/revision/{rev}
        if segments.count == 6, segments[0] == "api", segments[1] == "models", segments[4] == "revision" {
            if let fault = state.withLockedValue({ $0.apiFault }) {
                return Reply(status: fault.status, headers: fault.headers, body: fault.body)
            }
            let (repoID, revision) = ("\(segments[2])/\(segments[3])", segments[5])
            guard let repo = state.withLockedValue({ $0.repos[repoID] }) else {
                return Reply(status: 401, headers: ["X-Error-Code": "RepoNotFound"])
            }
            guard let commit = repo.resolve(revision) else {
                return Reply(status: 404, headers: ["X-Error-Code": "RevisionNotFound"])
            }
            let siblings = repo.files.keys.sorted().map { ["rfilename": $0] }
            let body = try! JSONSerialization.data(withJSONObject: ["id": repo.id, "sha": commit, "siblings": siblings])
            return Reply(status: 200, headers: ["Content-Type": "application/json"], body: Array(body))
        }
        // /{org}/{name}/resolve/{rev}/{path...}
        guard segments.count >= 5, segments[2] == "resolve" else { return Reply(status: 404) }
        let repoID = "\(segments[0])/\(segments[1])"
        let filePath = segments[4...].joined(separator: "/")
        guard let repo = state.withLockedValue({ $0.repos[repoID] }) else {
            return Reply(status: 401, headers: ["X-Error-Code": "RepoNotFound"])
        }
        guard let commit = repo.resolve(segments[3]) else {
            return Reply(status: 404, headers: ["X-Error-Code": "RevisionNotFound"])
        }
        guard let content = repo.files[filePath], let etag = repo.etag(filePath) else {
            return Reply(status: 404, headers: ["X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit])
        }
        let fault = takeFault(for: filePath, applies: { fault in
            switch fault {
            case .status, .announcedSize: return true
            default: return head.method == .GET && !repo.lfs.contains(filePath)
            }
        })
        if case .status(let status, let headers) = fault {
            return Reply(status: status, headers: headers.merging(["X-Repo-Commit": commit]) { $1 })
        }
        let announced = state.withLockedValue { state in
            let spelling = state.upperCaseETags ? etag.uppercased() : etag
            state.announcedETags.append(spelling)
            return spelling
        }
        if repo.lfs.contains(filePath) {
            var size = String(content.count)
            if case .announcedSize(let announced) = fault { size = String(announced) }
            let hops = state.withLockedValue { $0.cdnHops }
            let location = hops > 0 ? "\(cdnOrigin)/hop/\(hops)/\(etag)" : "\(cdnOrigin)/cdn/\(etag)?signature=abc"
            return Reply(status: 302, headers: [
                "X-Repo-Commit": commit, "X-Linked-Etag": "\"\(announced)\"", "X-Linked-Size": size,
                "ETag": "\"0123456789012345678901234567890123456789\"", "Location": location,
            ])
        }
        var reply = Reply(status: 200, headers: ["X-Repo-Commit": commit, "ETag": "\"\(announced)\""], body: content)
        reply.apply(fault)
        return reply
    }

    private func cdnReply(_ segments: [String], head: HTTPRequestHead) -> Reply {
        // /hop/{n}/{etag} -> /hop/{n-1}/{etag} ... -> /cdn/{etag}
        if segments.count == 3, segments[0] == "hop", let hops = Int(segments[1]) {
            let next = hops > 1 ? "/hop/\(hops - 1)/\(segments[2])" : "/cdn/\(segments[2])"
            return Reply(status: 302, headers: ["Location": next])
        }
        guard segments.count == 2, segments[0] == "cdn" else { return Reply(status: 404) }
        let etag = segments[1]
        let repos = state.withLockedValue { Array($0.repos.values) }
        guard let (repo, path) = repos.lazy.compactMap({ repo in
            repo.lfs.first { repo.etag($0) == etag }.map { (repo, $0) }
        }).first, let content = repo.files[path] else { return Reply(status: 404) }

        let fault = takeFault(for: path, applies: { fault in
            if case .status = fault { return false }
            if case .announcedSize = fault { return false }
            return head.method == .GET
        })
        var reply: Reply
        let rangeStart = head.headers.first(name: "Range").flatMap { range in
            range.hasPrefix("bytes=") ? Int(range.dropFirst(6).split(separator: "-").first ?? "") : nil
        }
        if case .notSatisfiable = fault {
            return Reply(status: 416, headers: ["Content-Range": "bytes */\(content.count)"])
        }
        if case .ignoreRange = fault {
            reply = Reply(status: 200, body: content)
        } else if case .contentRange(let header) = fault {
            reply = Reply(status: 206, headers: ["Content-Range": header], body: content)
        } else if case .rangeStartsEarly(let early) = fault, let from = rangeStart, from > 0, from < content.count {
            let start = max(0, from - early)
            reply = Reply(status: 206, headers: ["Content-Range": "bytes \(start)-\(content.count - 1)/\(content.count)"],
                          body: Array(content[start...]))
        } else if let range = head.headers.first(name: "Range"), range.hasPrefix("bytes="),
           let from = Int(range.dropFirst(6).split(separator: "-").first ?? ""), from <= content.count {
            guard from < content.count else {
                return Reply(status: 416, headers: ["Content-Range": "bytes */\(content.count)"])
            }
            reply = Reply(status: 206, headers: ["Content-Range": "bytes \(from)-\(content.count - 1)/\(content.count)"],
                          body: Array(content[from...]))
        } else {
            reply = Reply(status: 200, body: content)
        }
        reply.apply(fault)
        return reply
    }

    private func takeFault(for path: String, applies: (Fault) -> Bool) -> Fault? {
        state.withLockedValue { state in
            guard let entry = state.faults[path], applies(entry.fault) else { return nil }
            state.faults[path] = entry.times > 1 ? (entry.fault, entry.times - 1) : nil
            return entry.fault
        }
    }
}

/// A response and how to (mis)deliver it.
fileprivate struct Reply {
    enum Delivery { case normal, dropAfter(Int), stallAfter(Int, Double), delay(Double) }
    var status: Int
    var headers: [String: String] = [:]
    var body: [UInt8] = []
    var delivery = Delivery.normal

    mutating func apply(_ fault: Fault?) {
        switch fault {
        case .dropAfter(let bytes): delivery = .dropAfter(bytes)
        case .stallAfter(let bytes, let seconds): delivery = .stallAfter(bytes, seconds)
        case .delay(let seconds): delivery = .delay(seconds)
        case .corrupt where !body.isEmpty: body[body.count / 2] ^= 0xff
        default: break
        }
    }
}

private final class FakeHubHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let hub: FakeHub
    private let server: RecordedRequest.Server
    private var head: HTTPRequestHead?

    init(hub: FakeHub, server: RecordedRequest.Server) {
        self.hub = hub
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let reply = hub.reply(to: head, on: server)
            switch reply.delivery {
            case .delay(let seconds):
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(seconds * 1000))) {
                    self.send(reply, for: head, context: context, bodyLimit: nil)
                }
            case .dropAfter(let bytes):
                send(reply, for: head, context: context, bodyLimit: bytes)
                context.close(promise: nil)
            case .stallAfter(let bytes, let seconds):
                send(reply, for: head, context: context, bodyLimit: bytes)
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(seconds * 1000))) {
                    context.close(promise: nil)
                }
            case .normal:
                send(reply, for: head, context: context, bodyLimit: nil)
            }
        }
    }

    /// Writes the head announcing the full length, then the body (or only its first `bodyLimit` bytes).
    private func send(_ reply: Reply, for request: HTTPRequestHead, context: ChannelHandlerContext, bodyLimit: Int?) {
        var headers = HTTPHeaders(reply.headers.map { ($0.key, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: String(reply.body.count))
        let head = HTTPResponseHead(version: request.version, status: HTTPResponseStatus(statusCode: reply.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let body = bodyLimit.map { Array(reply.body.prefix($0)) } ?? reply.body
        if request.method != .HEAD, !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        }
        if bodyLimit == nil {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.flush()
        }
    }
}
