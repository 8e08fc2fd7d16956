import Foundation
import NIOCore
import NIOHTTP1

/// A repository at a revision, as `GET /api/models/{repo}/revision/{revision}` describes it.
struct ModelInfo: Sendable {
    let commit: String
    let files: [String]
}

/// Where and what a file is, from `HEAD {endpoint}/{repo}/resolve/{commit}/{path}`.
struct FileMetadata: Sendable {
    let path: String
    /// The blob name: `X-Linked-Etag` (LFS: sha256) or `ETag` (git blob sha1), without quotes or `W/`, and
    /// in lower case when it is a hash.
    let etag: String
    let size: Int64?
    /// The URL to GET: the redirect target (a CDN) when there is one.
    let downloadURL: String
}

extension HubSession {
    func modelInfo(_ repo: RepoID, revision: String) async throws -> ModelInfo {
        let url = "\(configuration.endpoint)/api/models/\(repo.rawValue)/revision/\(percentEncode(revision, keepSlashes: false))"
        let (_, body) = try await metadata(.GET, url, context: .modelInfo(repo: repo, revision: revision))
        struct Response: Decodable {
            struct Sibling: Decodable { let rfilename: String }
            let sha: String?
            let siblings: [Sibling]?
        }
        guard let body, let response = try? JSONDecoder().decode(Response.self, from: Data(body.readableBytesView)) else {
            throw HubError.badServerResponse(url: url, reason: "the model info is not the JSON the hub sends")
        }
        guard let commit = response.sha, Revision.isCommitHash(commit) else {
            throw HubError.badServerResponse(url: url, reason: "the model info has no commit hash (\"sha\")")
        }
        let files = (response.siblings ?? []).map { $0.rfilename }
        for file in files { try RepoPath.validate(file, repo: repo) }
        return ModelInfo(commit: commit, files: files)
    }

    func resolveURL(_ repo: RepoID, revision: String, path: String) -> String {
        "\(configuration.endpoint)/\(repo.rawValue)/resolve/\(percentEncode(revision, keepSlashes: false))/\(percentEncode(path, keepSlashes: true))"
    }

    /// Reads the file's blob name, size and final location without downloading it, as huggingface_hub's
    /// `get_hf_file_metadata` does.
    func fileMetadata(_ repo: RepoID, commit: String, path: String) async throws -> FileMetadata {
        let url = resolveURL(repo, revision: commit, path: path)
        let (head, _) = try await metadata(.HEAD, url, context: .file(repo: repo, revision: commit, path: path))
        let headers = head.headers
        guard headers.first(name: "X-Repo-Commit") != nil else {
            throw HubError.badServerResponse(url: url, reason: "no X-Repo-Commit header")
        }
        guard let etag = normalizeETag(headers.first(name: "X-Linked-Etag") ?? headers.first(name: "ETag")),
              isUsableBlobName(etag)
        else {
            throw HubError.badServerResponse(url: url, reason: "no usable ETag, so the file cannot be verified or cached")
        }
        let isRedirect = (300..<400).contains(head.status)
        let sizeText = headers.first(name: "X-Linked-Size") ?? (isRedirect ? nil : headers.first(name: "Content-Length"))
        let location = isRedirect
            ? headers.first(name: "Location").flatMap { URL(string: $0, relativeTo: URL(string: head.url))?.absoluteString }
            : nil
        return FileMetadata(
            path: path, etag: etag, size: sizeText.flatMap { Int64($0) }, downloadURL: location ?? head.url
        )
    }
}

/// `W/"abc"` and `"abc"` both become `abc` (huggingface_hub's `_normalize_etag`), and a hash in upper
/// case becomes lower case: hashes are case-insensitive, the cache names blobs in lower case (as the hub
/// and huggingface_hub do), and only a hash the verifier recognises gets checked, so an upper-case
/// spelling must neither create a second blob nor slip through unverified.
func normalizeETag(_ etag: String?) -> String? {
    guard var value = etag?.trimmingCharacters(in: .whitespaces) else { return nil }
    if value.hasPrefix("W/") { value.removeFirst(2) }
    value = value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    return isHexHash(value) ? value.lowercased() : value
}

/// 40 (git sha1) or 64 (sha256) hex digits, in either case.
func isHexHash(_ text: String) -> Bool {
    (text.utf8.count == 40 || text.utf8.count == 64) && text.utf8.allSatisfy { byte in
        (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102) || (byte >= 65 && byte <= 70)
    }
}

/// The ETag becomes a file name in `blobs/` (plus `.incomplete` or `.lock`) and appears in messages: visible
/// ASCII only (what RFC 9110 allows in an entity tag, less obs-text), no path separators, short enough
/// for any file system.
private func isUsableBlobName(_ etag: String) -> Bool {
    !etag.isEmpty && etag.utf8.count <= 200 && etag != "." && etag != ".."
        && etag.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") }
}

/// Python's `urllib.parse.quote` (`safe=""` for revisions, `safe="/"` for file paths).
func percentEncode(_ text: String, keepSlashes: Bool) -> String {
    var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    if keepSlashes { allowed.insert("/") }
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}
