/// A validated model repository id (`org/name`, or a legacy single `name`), with the cache folder name
/// huggingface_hub gives it.
public struct RepoID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Mirrors huggingface_hub's `validate_repo_id`: one optional namespace, word characters, `-` and `.`,
    /// no `--` or `..` (they would make the cache folder name ambiguous), at most 96 characters.
    public init(_ string: String) throws(HubError) {
        let parts = string.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), string.count <= 96,
              !string.contains("--"), !string.contains(".."),
              parts.allSatisfy(RepoID.isValidSegment)
        else { throw HubError.invalidRepoID(string) }
        rawValue = string
    }

    public var description: String { rawValue }

    /// `models--org--name`, the folder under the hub cache.
    public var cacheFolderName: String {
        (["models"] + rawValue.split(separator: "/").map(String.init)).joined(separator: "--")
    }

    /// The inverse of `cacheFolderName`, for scanning the cache; nil for datasets, spaces and foreign folders.
    public init?(cacheFolderName: String) {
        guard cacheFolderName.hasPrefix("models--") else { return nil }
        let id = cacheFolderName.dropFirst("models--".count).replacingOccurrences(of: "--", with: "/")
        guard let repo = try? RepoID(id) else { return nil }
        self = repo
    }

    private static func isValidSegment(_ segment: Substring) -> Bool {
        guard let first = segment.first, let last = segment.last else { return false }
        // Python's pattern wraps each segment in \b, so it must start and end with a word character.
        guard isWordCharacter(first), isWordCharacter(last) else { return false }
        return segment.allSatisfy { isWordCharacter($0) || $0 == "-" || $0 == "." }
    }

    private static func isWordCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "_")
    }
}

/// Revisions are branch names, tags or commit hashes; `refs/pr/1` style names are allowed, but nothing
/// that could climb out of `refs/` once used as a path.
enum Revision {
    static func validate(_ revision: String) throws(HubError) {
        let segments = revision.split(separator: "/", omittingEmptySubsequences: false)
        guard !revision.isEmpty, !revision.hasPrefix("/"),
              segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else { throw HubError.invalidRevision(revision) }
    }

    /// A full 40-hex commit id: content pinned by it never changes, so the cache can answer without the network.
    static func isCommitHash(_ revision: String) -> Bool {
        revision.utf8.count == 40 && revision.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// Repository file names come from the server; they become paths under the snapshot folder only when they
/// cannot escape it (same rule as huggingface_hub's `_validate_relative_filename`).
enum RepoPath {
    static func validate(_ path: String, repo: RepoID) throws(HubError) {
        let segments = path.replacingOccurrences(of: "\\", with: "/").split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !path.hasPrefix("/"), !path.contains("\0"),
              !(path.count >= 2 && path.dropFirst().first == ":"),
              segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else { throw HubError.unsafeFilePath(repo: repo.rawValue, path: path) }
    }
}
