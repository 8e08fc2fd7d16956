import Foundation

/// Where the hub is, who we are to it, where the cache lives and how patient to be. `fromEnvironment`
/// reads the same variables as huggingface_hub so both tools share one cache and one login; every field
/// can then be overridden explicitly.
public struct HubConfiguration: Sendable {
    /// `HF_ENDPOINT`, default `https://huggingface.co`, without a trailing slash.
    public var endpoint: String
    /// `HF_TOKEN` (or the legacy `HUGGING_FACE_HUB_TOKEN`), else the file `HF_TOKEN_PATH` / `$HF_HOME/token`.
    public var token: String?
    /// `HF_HUB_CACHE` (or the legacy `HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    public var cacheDirectory: URL
    /// `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) set to 1/ON/YES/TRUE: never touch the network.
    public var offline: Bool
    /// `HF_HUB_ETAG_TIMEOUT` (10 s): how long to wait for the answer to a metadata request.
    public var metadataTimeout: Duration
    /// `HF_HUB_DOWNLOAD_TIMEOUT` (10 s): how long a transfer may go without receiving a byte.
    public var readTimeout: Duration
    /// Files fetched at the same time.
    public var maxConcurrentDownloads: Int
    public var retry: RetryPolicy
    public var userAgent: String

    public init(
        endpoint: String = HubConfiguration.defaultEndpoint,
        token: String? = nil,
        cacheDirectory: URL,
        offline: Bool = false,
        metadataTimeout: Duration = .seconds(10),
        readTimeout: Duration = .seconds(10),
        maxConcurrentDownloads: Int = 4,
        retry: RetryPolicy = RetryPolicy(),
        userAgent: String = "kataribe"
    ) {
        self.endpoint = HubConfiguration.trimmedEndpoint(endpoint)
        self.token = token
        self.cacheDirectory = cacheDirectory
        self.offline = offline
        self.metadataTimeout = metadataTimeout
        self.readTimeout = readTimeout
        self.maxConcurrentDownloads = max(1, maxConcurrentDownloads)
        self.retry = retry
        self.userAgent = userAgent
    }

    public static let defaultEndpoint = "https://huggingface.co"

    /// The configuration huggingface_hub would use with these environment variables.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> HubConfiguration {
        let env = EnvironmentReader(environment)
        let hfHome = env.path("HF_HOME")
            ?? (env.path("XDG_CACHE_HOME") ?? env.homeDirectory + "/.cache") + "/huggingface"
        let cache = env.path("HF_HUB_CACHE") ?? env.path("HUGGINGFACE_HUB_CACHE") ?? hfHome + "/hub"
        let tokenPath = env.path("HF_TOKEN_PATH") ?? hfHome + "/token"
        let token = cleanToken(env["HF_TOKEN"] ?? env["HUGGING_FACE_HUB_TOKEN"])
            ?? cleanToken(try? String(contentsOfFile: tokenPath, encoding: .utf8))
        return HubConfiguration(
            endpoint: env["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultEndpoint,
            token: token,
            cacheDirectory: URL(fileURLWithPath: cache, isDirectory: true),
            offline: env.isTrue("HF_HUB_OFFLINE") || env.isTrue("TRANSFORMERS_OFFLINE"),
            metadataTimeout: .seconds(env.positiveInt("HF_HUB_ETAG_TIMEOUT") ?? 10),
            readTimeout: .seconds(env.positiveInt("HF_HUB_DOWNLOAD_TIMEOUT") ?? 10)
        )
    }

    static func trimmedEndpoint(_ endpoint: String) -> String {
        var trimmed = endpoint
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed
    }
}

/// Exponential backoff for transient failures (connection errors, timeouts, 408, 429, 5xx), like
/// huggingface_hub's `http_backoff`: 1 s doubling up to 8 s, five retries. A transfer that made progress
/// starts its count afresh, so a flaky link still finishes a large file. Every loop that retries is bounded
/// by these numbers.
public struct RetryPolicy: Sendable {
    public var maxRetries: Int
    public var initialDelay: Duration
    public var maxDelay: Duration
    /// Retries after no connection could be made at all (the name does not resolve, the port refuses, the
    /// network is unreachable, the connect timed out), with pauses of at most one second. Few and short:
    /// an offline machine or a mistyped HF_ENDPOINT does not recover within a backoff, and the user should
    /// hear so in seconds rather than after a minute and a half of silence.
    public var maxConnectRetries: Int
    /// The most requests one file may take in one run, progress or not. Progress restarts the retry count,
    /// so without this a server that sends a few bytes per connection could keep a download going forever;
    /// what arrived stays in the partial file for the next run.
    public var maxAttemptsPerFile: Int

    public init(
        maxRetries: Int = 5, initialDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(8),
        maxConnectRetries: Int = 2, maxAttemptsPerFile: Int = 100
    ) {
        self.maxRetries = max(0, maxRetries)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.maxConnectRetries = max(0, maxConnectRetries)
        self.maxAttemptsPerFile = max(1, maxAttemptsPerFile)
    }

    func delay(afterAttempt attempt: Int) -> Duration {
        var delay = initialDelay
        for _ in 0..<max(0, attempt) where delay < maxDelay { delay = delay * 2 }
        return min(delay, maxDelay)
    }

    func connectDelay(afterAttempt attempt: Int) -> Duration {
        min(delay(afterAttempt: attempt), .seconds(1))
    }
}

/// One operation's failures counted against a `RetryPolicy`: failures to connect draw on the short
/// budget, everything else on the long one.
struct RetryBudget {
    let policy: RetryPolicy
    private var failures = 0
    private var connectFailures = 0

    init(_ policy: RetryPolicy) { self.policy = policy }

    /// The pause before the next try, or nil when the budget is spent.
    mutating func delay(afterConnectFailure isConnectFailure: Bool) -> Duration? {
        if isConnectFailure {
            guard connectFailures < policy.maxConnectRetries else { return nil }
            defer { connectFailures += 1 }
            return policy.connectDelay(afterAttempt: connectFailures)
        }
        guard failures < policy.maxRetries else { return nil }
        defer { failures += 1 }
        return policy.delay(afterAttempt: failures)
    }

    /// New bytes arrived: the link works, so the failures before no longer predict the next ones.
    mutating func progressMade() {
        failures = 0
        connectFailures = 0
    }
}

/// `huggingface_hub.utils._auth._clean_token`: strip newlines and spaces; empty means none.
func cleanToken(_ token: String?) -> String? {
    guard let token else { return nil }
    let cleaned = token.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "")
        .trimmingCharacters(in: .whitespaces)
    return cleaned.isEmpty ? nil : cleaned
}

/// Reads variables the way huggingface_hub's `os.path.expandvars(os.path.expanduser(...))` sees them.
struct EnvironmentReader {
    let values: [String: String]
    init(_ values: [String: String]) { self.values = values }

    subscript(name: String) -> String? { values[name] }

    var homeDirectory: String {
        if let home = values["HOME"], !home.isEmpty { return home }
        return FileManager.default.homeDirectoryForCurrentUser.path
    }

    func isTrue(_ name: String) -> Bool {
        guard let value = values[name] else { return false }
        return ["1", "ON", "YES", "TRUE"].contains(value.uppercased())
    }

    func positiveInt(_ name: String) -> Int? {
        values[name].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.flatMap { $0 > 0 ? $0 : nil }
    }

    /// A path variable, with `$VAR`/`${VAR}` and a leading `~` expanded; nil when unset or empty.
    func path(_ name: String) -> String? {
        guard let raw = values[name], !raw.isEmpty else { return nil }
        var path = raw
        if path == "~" {
            path = homeDirectory
        } else if path.hasPrefix("~/") {
            path = homeDirectory + path.dropFirst()
        }
        return expandVariables(path)
    }

    private func expandVariables(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            var after = rest[rest.index(after: dollar)...]
            let name: Substring
            if after.first == "{", let close = after.firstIndex(of: "}") {
                name = after[after.index(after: after.startIndex)..<close]
                after = after[after.index(after: close)...]
            } else {
                let end = after.firstIndex { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_")) } ?? after.endIndex
                name = after[..<end]
                after = after[end...]
            }
            // Python leaves unknown variables untouched.
            if !name.isEmpty, let value = values[String(name)] {
                out += value
            } else {
                out += rest[dollar..<after.startIndex]
            }
            rest = after
        }
        return out + rest
    }
}
