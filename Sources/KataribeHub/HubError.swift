/// Everything that can go wrong while turning a model id into a local folder. Each message names the
/// repository, revision, file or path involved and says what the user can do about it.
public enum HubError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The string is not an existing folder nor a valid `org/name` repository id.
    case invalidRepoID(String)
    /// A revision containing `..` or empty path segments would escape `refs/`.
    case invalidRevision(String)
    /// A file name listed by the server is absolute or climbs out of the snapshot folder.
    case unsafeFilePath(repo: String, path: String)
    /// The explicit local path exists but is not a folder, or looks like a path and does not exist.
    case localPathNotAFolder(String)
    case localPathNotFound(String)
    /// HTTP 401: private or gated repository (or a repository that does not exist, which the hub hides the same way).
    case authenticationRequired(repo: String, tokenSent: Bool)
    /// HTTP 403: the token is valid but lacks access, typically a gated repository whose terms were not accepted.
    case accessDenied(repo: String, tokenSent: Bool)
    case repositoryNotFound(repo: String, tokenSent: Bool)
    case revisionNotFound(repo: String, revision: String)
    case fileNotFound(repo: String, revision: String, path: String)
    /// The repository has neither safetensors nor PyTorch weights.
    case noWeights(repo: String, revision: String)
    /// A sharded checkpoint's index is unreadable or names a shard the repository lacks.
    case badShardIndex(file: String, reason: String)
    /// The downloaded bytes do not hash to the ETag the hub announced; nothing was placed in the cache.
    /// `expected` and `actual` are lower-case hex.
    case checksumMismatch(repo: String, path: String, expected: String, actual: String)
    case sizeMismatch(repo: String, path: String, expected: Int64, actual: Int64)
    /// The server answered but not like the hub does (missing X-Repo-Commit or ETag, unreadable JSON).
    case badServerResponse(url: String, reason: String)
    /// An unexpected status; `message` is the server's own explanation (`X-Error-Message` or the body),
    /// already made safe to print (see `ServerText`).
    case httpStatus(url: String, status: Int, message: String? = nil)
    case tooManyRedirects(url: String)
    /// No byte arrived within the read timeout, even after retries. `partial` is the file kept for the next run.
    case timedOut(url: String, partial: PartialDownload? = nil)
    /// The connection broke (reset, dropped, ended early) even after retries.
    case network(url: String, reason: String, partial: PartialDownload? = nil)
    /// No connection could be made at all: the host name does not resolve, nothing listens on the port,
    /// the network is unreachable, or the connection attempt timed out.
    case cannotConnect(url: String, reason: String, partial: PartialDownload? = nil)
    /// The server's answer to a (resumed) transfer does not fit the request: a `Content-Range` that starts
    /// elsewhere, names another total size or is malformed, or a 416. Restarting from byte 0 did not help.
    case badRangeResponse(repo: String, path: String, reason: String)
    case insufficientDiskSpace(path: String, needed: Int64, available: Int64)
    /// A file system operation failed (permissions, disk full, a file where a folder should be).
    case fileSystem(path: String, operation: String, reason: String)
    /// Offline mode and the cache does not hold this repository at this revision.
    case notInCacheOffline(repo: String, revision: String, cache: String)
    /// The cached snapshot lacks files a model needs (an interrupted download), and offline mode forbids fetching them.
    case incompleteSnapshot(repo: String, commit: String, missing: [String])

    public var description: String {
        switch self {
        case .invalidRepoID(let id):
            return "'\(id)' is not a local folder or a valid Hugging Face model id (expected ORG/NAME: "
                + "letters, digits, '-', '_' and '.', no '--' or '..', at most 96 characters)"
        case .invalidRevision(let revision):
            return "invalid revision '\(revision)': expected a branch, a tag or a commit hash"
        case .unsafeFilePath(let repo, let path):
            return "\(repo): the hub listed the file '\(shown(path))', whose path would leave the snapshot folder; refusing it"
        case .localPathNotAFolder(let path):
            return "\(path) is a file; a model is a folder holding config.json, the tokenizer and the weights"
        case .localPathNotFound(let path):
            return "no such folder: \(path)"
        case .authenticationRequired(let repo, let tokenSent):
            return "\(repo): the hub answered 401 Unauthorized. The repository is private or gated, or does not exist. "
                + tokenAdvice(tokenSent)
        case .accessDenied(let repo, let tokenSent):
            return "\(repo): the hub answered 403 Forbidden. For a gated model, accept its terms on the model page with "
                + "the account whose token you use. " + tokenAdvice(tokenSent)
        case .repositoryNotFound(let repo, let tokenSent):
            return "\(repo): repository not found on the hub. Check the spelling; if it is private or gated, "
                + tokenAdvice(tokenSent)
        case .revisionNotFound(let repo, let revision):
            return "\(repo): revision '\(revision)' not found (no such branch, tag or commit)"
        case .fileNotFound(let repo, let revision, let path):
            return "\(repo)@\(revision): file '\(shown(path))' not found"
        case .noWeights(let repo, let revision):
            return "\(repo)@\(revision): no weights found (looked for model.safetensors, model.safetensors.index.json, "
                + "pytorch_model.bin, pytorch_model.bin.index.json)"
        case .badShardIndex(let file, let reason):
            return "\(shown(file)): \(shown(reason, limit: 400))"
        case .checksumMismatch(let repo, let path, let expected, let actual):
            return "\(repo): '\(shown(path))' is corrupt: its hash is \(actual) but the hub announced \(shown(expected)). "
                + "Nothing was placed in the cache; run the download again."
        case .sizeMismatch(let repo, let path, let expected, let actual):
            return "\(repo): '\(shown(path))' has \(actual) bytes but the hub announced \(expected). "
                + "Nothing was placed in the cache; run the download again."
        case .badServerResponse(let url, let reason):
            return "\(shownURL(url)): unexpected answer from the server (\(shown(reason, limit: 400))). If HF_ENDPOINT is "
                + "set, check that it points to a Hugging Face Hub compatible server."
        case .httpStatus(let url, let status, let message):
            return "\(shownURL(url)): HTTP \(status)" + (message.map { ": \(shown($0))" } ?? "")
        case .tooManyRedirects(let url):
            return "\(shownURL(url)): too many redirects"
        case .timedOut(let url, let partial):
            return "\(shownURL(url)): the server stopped sending data (timed out after retries). "
                + "Raise HF_HUB_DOWNLOAD_TIMEOUT on slow links." + partialNote(partial)
        case .network(let url, let reason, let partial):
            return "\(shownURL(url)): network error after retries (\(shown(reason))). Run the download again." + partialNote(partial)
        case .cannotConnect(let url, let reason, let partial):
            return "\(shownURL(url)): cannot connect (\(shown(reason))); the hub cannot be reached from here. Check the "
                + "network connection, and HF_ENDPOINT if it is set. To use models already in the cache without the "
                + "network, set HF_HUB_OFFLINE=1." + partialNote(partial)
        case .badRangeResponse(let repo, let path, let reason):
            return "\(repo): '\(shown(path))': the server's answer does not fit the requested byte range "
                + "(\(shown(reason, limit: 400))), even when downloading from the start. Nothing was placed in the cache. "
                + "If HF_ENDPOINT or a proxy is in the way, check that it supports HTTP range requests."
        case .insufficientDiskSpace(let path, let needed, let available):
            return "\(path): not enough disk space (\(ByteCountText.format(needed)) needed, "
                + "\(ByteCountText.format(available)) free). Free space or point HF_HUB_CACHE elsewhere."
        case .fileSystem(let path, let operation, let reason):
            return "\(path): cannot \(operation): \(reason)"
        case .notInCacheOffline(let repo, let revision, let cache):
            return "\(repo)@\(revision) is not in the cache (\(cache)) and offline mode is on (HF_HUB_OFFLINE). "
                + "Download it first with network access: kataribe download \(repo)"
        case .incompleteSnapshot(let repo, let commit, let missing):
            let shown = missing.prefix(3).joined(separator: ", ") + (missing.count > 3 ? ", ..." : "")
            return "\(repo)@\(commit) is only partly cached (missing \(shown)) and offline mode is on (HF_HUB_OFFLINE). "
                + "Run kataribe download \(repo) with network access to complete it."
        }
    }
}

extension HubError {
    /// The hub could not be reached or is failing (network down, timeouts, 5xx), as opposed to an answer
    /// such as 401 or 404 that the cache cannot overrule.
    public var isUnreachable: Bool {
        switch self {
        case .network, .timedOut, .cannotConnect: return true
        case .httpStatus(_, let status, _): return status >= 500 || status == 408 || status == 429
        default: return false
        }
    }

    /// The same error, naming the partial file a failed transfer leaves behind for the next run.
    func keeping(_ partial: PartialDownload?) -> HubError {
        switch self {
        case .timedOut(let url, _): return .timedOut(url: url, partial: partial)
        case .network(let url, let reason, _): return .network(url: url, reason: reason, partial: partial)
        case .cannotConnect(let url, let reason, _): return .cannotConnect(url: url, reason: reason, partial: partial)
        default: return self
        }
    }
}

/// The `.incomplete` file an interrupted transfer leaves in `blobs/`; the next run resumes from it.
public struct PartialDownload: Sendable, Equatable {
    public let path: String
    public let bytes: Int64

    public init(path: String, bytes: Int64) {
        self.path = path
        self.bytes = bytes
    }
}

/// Only a partial file that exists is worth a word: telling a user "the partial file is kept" when
/// nothing was written sends them looking for a file that is not there.
private func partialNote(_ partial: PartialDownload?) -> String {
    guard let partial, partial.bytes > 0 else { return "" }
    return " The partial file \(shown(partial.path, limit: 500)) (\(ByteCountText.format(partial.bytes))) is kept; "
        + "the next run resumes it."
}

/// URLs come from the server too (redirect targets). The query is dropped: on a CDN it is a signature
/// that is long, useless to a reader and not meant to be pasted into bug reports.
private func shownURL(_ url: String) -> String {
    let withoutQuery = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
    return ServerText.sanitized(withoutQuery, limit: 300)
}

private func shown(_ text: String, limit: Int = ServerText.defaultLimit) -> String {
    ServerText.sanitized(text, limit: limit)
}

/// Server-supplied text (error bodies, headers, file names, URLs) on its way into a message for a
/// terminal. A hostile or broken server can send megabytes, or escape sequences that recolour, move the
/// cursor or retitle the window, or bidirectional overrides that make text read differently than it is.
public enum ServerText {
    public static let defaultLimit = 200

    /// `text` with control, format and line-separator characters written as Swift escapes (`\n`,
    /// `\u{1B}`), cut to at most `limit` Unicode scalars, the last being `…` when something was cut.
    /// Counting scalars rather than characters also bounds a single character built from thousands of
    /// combining marks. Applying it twice changes nothing.
    public static func sanitized(_ text: String, limit: Int = defaultLimit) -> String {
        let limit = max(1, limit)
        var out = String.UnicodeScalarView()
        var count = 0
        var scalars = text.unicodeScalars.makeIterator()
        // Fill all but the last slot, which is kept for the ellipsis unless the text ends right there.
        while let scalar = scalars.next() {
            let piece = escaped(scalar)
            if count + piece.count > limit - 1 {
                if count + piece.count == limit, scalars.next() == nil {
                    out.append(contentsOf: piece)
                } else {
                    out.append("…")
                }
                return String(out)
            }
            out.append(contentsOf: piece)
            count += piece.count
        }
        return String(out)
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        switch scalar {
        case "\n": return Array("\\n".unicodeScalars)
        case "\r": return Array("\\r".unicodeScalars)
        case "\t": return Array("\\t".unicodeScalars)
        default: break
        }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .unassigned:
            return Array("\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
        default:
            return [scalar]
        }
    }
}

private func tokenAdvice(_ tokenSent: Bool) -> String {
    tokenSent
        ? "The token that was sent (HF_TOKEN or $HF_HOME/token) does not grant access."
        : "No token was sent: set HF_TOKEN (or write it to $HF_HOME/token) for an account with access."
}
