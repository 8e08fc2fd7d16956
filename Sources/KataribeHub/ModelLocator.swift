import Foundation

/// A model found on disk, and how it was found.
public struct LocatedModel: Sendable, Equatable {
    public enum Origin: Sendable, Equatable {
        /// The argument was an existing folder.
        case localFolder
        /// The caller found it before asking the hub (KataribeApp's built-in demo models); the string
        /// names where.
        case source(String)
        /// The Hugging Face cache already held a complete snapshot.
        case cache
        /// The snapshot was (completed and) downloaded now.
        case download
    }

    public let folder: URL
    public let origin: Origin
    /// The repository and commit for hub models, nil otherwise.
    public let repo: RepoID?
    public let commit: String?

    public init(folder: URL, origin: Origin, repo: RepoID? = nil, commit: String? = nil) {
        self.folder = folder
        self.origin = origin
        self.repo = repo
        self.commit = commit
    }
}

/// Turns a folder path or a repository id (`cyberagent/open-calm-7b`, `./my-model`) into a folder:
/// an existing folder as it is; else the hub cache (`refs/<revision>` -> complete snapshot); else a
/// download, unless offline. Names that are neither (demo models, preset ids) are KataribeApp's
/// `ModelResolver`'s to turn into one of these first.
public struct ModelLocator: Sendable {
    public var hub: HubClient

    public init(hub: HubClient = HubClient()) {
        self.hub = hub
    }

    /// - Parameters:
    ///   - revision: branch, tag or commit for hub models; nil means `main`.
    ///   - offline: overrides the configuration (`HF_HUB_OFFLINE`) when not nil.
    public func resolve(
        _ idOrPath: String, revision: String? = nil, offline: Bool? = nil, progress: ProgressHandler? = nil
    ) async throws -> LocatedModel {
        var hub = self.hub
        if let offline { hub.configuration.offline = offline }

        if let folder = try Self.existingFolder(idOrPath) {
            return LocatedModel(folder: folder, origin: .localFolder)
        }
        if Self.looksLikePath(idOrPath) { throw HubError.localPathNotFound(idOrPath) }

        let repo = try RepoID(idOrPath)
        let revision = revision ?? "main"
        if let cached = try? hub.cachedSnapshot(repo: repo, revision: revision) {
            return LocatedModel(folder: cached.folder, origin: .cache, repo: repo, commit: cached.commit)
        }
        let snapshot = try await hub.download(repo: repo.rawValue, revision: revision, progress: progress)
        return LocatedModel(folder: snapshot.folder, origin: .download, repo: repo, commit: snapshot.commit)
    }

    /// The folder at `path` (with `~` expanded) if it exists; an error if it is a file.
    static func existingFolder(_ path: String) throws(HubError) -> URL? {
        let expanded = (path as NSString).expandingTildeInPath
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: expanded, isDirectory: &isDirectory) else { return nil }
        guard isDirectory.boolValue else { throw HubError.localPathNotAFolder(path) }
        return URL(fileURLWithPath: expanded, isDirectory: true).standardizedFileURL
    }

    /// Strings no repository id can be: they name a folder that is missing, not a model to download.
    public static func looksLikePath(_ string: String) -> Bool {
        string.hasPrefix("/") || string.hasPrefix("./") || string.hasPrefix("../") || string.hasPrefix("~")
            || string == "." || string == ".." || string.hasSuffix("/") || string.split(separator: "/").count > 2
    }
}
