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
    case checksumMismatch(repo: String, path: String, expected: String, actual: String)
    case sizeMismatch(repo: String, path: String, expected: Int64, actual: Int64)
    /// The server answered but not like the hub does (missing X-Repo-Commit or ETag, unreadable JSON).
    case badServerResponse(url: String, reason: String)
    case httpStatus(url: String, status: Int)
    case tooManyRedirects(url: String)
    /// No byte arrived within the read timeout, even after retries.
    case timedOut(url: String)
    /// The connection failed (refused, reset, dropped) even after retries.
    case network(url: String, reason: String)
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
            return "\(repo): the hub listed the file '\(path)', whose path would leave the snapshot folder; refusing it"
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
            return "\(repo)@\(revision): file '\(path)' not found"
        case .noWeights(let repo, let revision):
            return "\(repo)@\(revision): no weights found (looked for model.safetensors, model.safetensors.index.json, "
                + "pytorch_model.bin, pytorch_model.bin.index.json)"
        case .badShardIndex(let file, let reason):
            return "\(file): \(reason)"
        case .checksumMismatch(let repo, let path, let expected, let actual):
            return "\(repo): '\(path)' is corrupt: its hash is \(actual) but the hub announced \(expected). "
                + "Nothing was placed in the cache; run the download again."
        case .sizeMismatch(let repo, let path, let expected, let actual):
            return "\(repo): '\(path)' has \(actual) bytes but the hub announced \(expected). "
                + "Nothing was placed in the cache; run the download again."
        case .badServerResponse(let url, let reason):
            return "\(url): unexpected answer from the server (\(reason)). If HF_ENDPOINT is set, check that it points "
                + "to a Hugging Face Hub compatible server."
        case .httpStatus(let url, let status):
            return "\(url): HTTP \(status)"
        case .tooManyRedirects(let url):
            return "\(url): too many redirects"
        case .timedOut(let url):
            return "\(url): the server stopped sending data (timed out after retries). "
                + "Raise HF_HUB_DOWNLOAD_TIMEOUT on slow links; the partial file is kept and the next run resumes it."
        case .network(let url, let reason):
            return "\(url): network error after retries (\(reason)). The partial file is kept and the next run resumes it."
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
        case .network, .timedOut: return true
        case .httpStatus(_, let status): return status >= 500 || status == 408 || status == 429
        default: return false
        }
    }
}

private func tokenAdvice(_ tokenSent: Bool) -> String {
    tokenSent
        ? "The token that was sent (HF_TOKEN or $HF_HOME/token) does not grant access."
        : "No token was sent: set HF_TOKEN (or write it to $HF_HOME/token) for an account with access."
}
