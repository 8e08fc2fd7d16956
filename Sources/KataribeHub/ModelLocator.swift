import Foundation

/// A model found on disk, and how it was found.
public struct LocatedModel: Sendable, Equatable {
    public enum Origin: Sendable, Equatable {
        /// The argument was an existing folder.
        case localFolder
        /// A `ModelSource` in front of the hub answered (e.g. a built-in demo model); the string names it.
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

/// Resolves names the hub does not know (built-in demo models, aliases). Sources are consulted in order
/// before the hub; returning nil passes the name on.
public protocol ModelSource: Sendable {
    func locate(_ name: String, revision: String?, offline: Bool) async throws -> LocatedModel?
}

/// Turns what a user typed (`cyberagent/open-calm-7b`, `./my-model`) into a folder:
/// an existing folder as it is; else the first `ModelSource` that knows the name; else the hub cache
/// (`refs/<revision>` -> complete snapshot); else a download, unless offline.
public struct ModelLocator: Sendable {
    public var hub: HubClient
    public var sources: [any ModelSource]

    public init(hub: HubClient = HubClient(), sources: [any ModelSource] = []) {
        self.hub = hub
        self.sources = sources
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
        for source in sources {
            if let located = try await source.locate(idOrPath, revision: revision, offline: hub.configuration.offline) {
                return located
            }
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
    static func looksLikePath(_ string: String) -> Bool {
        string.hasPrefix("/") || string.hasPrefix("./") || string.hasPrefix("../") || string.hasPrefix("~")
            || string == "." || string == ".." || string.hasSuffix("/") || string.split(separator: "/").count > 2
    }
}
