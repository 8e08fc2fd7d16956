import Foundation

/// The huggingface_hub cache layout, so models fetched by Python are reused as they are and Python reuses
/// ours:
///
///     <root>/models--ORG--NAME/
///         blobs/<etag>                   content; etag = sha256 (LFS) or git blob sha1
///         blobs/<etag>.incomplete        a transfer in progress, resumed with HTTP Range
///         refs/<branch or tag>           the commit hash it pointed at, no newline
///         snapshots/<commit>/<path>      relative symlink to ../../blobs/<etag>
///         .no_exist/<commit>/<path>      empty marker: the file is known to be absent at that commit
///     <root>/.locks/models--ORG--NAME/<etag>.lock
public struct HubCache: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    public func repoFolder(_ repo: RepoID) -> URL {
        root.appendingPathComponent(repo.cacheFolderName, isDirectory: true)
    }

    public func snapshotFolder(_ repo: RepoID, commit: String) -> URL {
        repoFolder(repo).appendingPathComponent("snapshots", isDirectory: true)
            .appendingPathComponent(commit, isDirectory: true)
    }

    func blobURL(_ repo: RepoID, etag: String) -> URL {
        repoFolder(repo).appendingPathComponent("blobs", isDirectory: true).appendingPathComponent(etag)
    }

    func incompleteBlobURL(_ repo: RepoID, etag: String) -> URL {
        repoFolder(repo).appendingPathComponent("blobs", isDirectory: true).appendingPathComponent(etag + ".incomplete")
    }

    func lockURL(_ repo: RepoID, etag: String) -> URL {
        root.appendingPathComponent(".locks", isDirectory: true)
            .appendingPathComponent(repo.cacheFolderName, isDirectory: true)
            .appendingPathComponent(etag + ".lock")
    }

    func refURL(_ repo: RepoID, revision: String) -> URL {
        repoFolder(repo).appendingPathComponent("refs", isDirectory: true).appendingPathComponent(revision)
    }

    /// The commit a revision stands for, from the cache alone: a commit hash is itself, a branch or tag
    /// is whatever `refs/` recorded at the last download.
    public func commit(for revision: String, in repo: RepoID) -> String? {
        if Revision.isCommitHash(revision) { return revision }
        guard (try? Revision.validate(revision)) != nil,
              let text = try? String(contentsOf: refURL(repo, revision: revision), encoding: .utf8)
        else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }

    /// Whether `path` is present in the snapshot; a symlink whose blob is gone does not count.
    func snapshotHasFile(_ repo: RepoID, commit: String, path: String) -> Bool {
        var isDirectory: ObjCBool = false
        let url = snapshotFolder(repo, commit: commit).appendingPathComponent(path)
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// Records that `revision` points at `commit`. Written to a temporary file and renamed, like
    /// huggingface_hub, so a concurrent reader never sees a truncated ref; skipped when already right,
    /// so a read-only cache that is up to date still works.
    func writeRef(_ repo: RepoID, revision: String, commit: String) throws(HubError) {
        guard revision != commit, self.commit(for: revision, in: repo) != commit else { return }
        let url = refURL(repo, revision: revision)
        try FileSystem.createDirectory(url.deletingLastPathComponent())
        let temporary = url.deletingLastPathComponent().appendingPathComponent("\(url.lastPathComponent).\(FileSystem.uniqueSuffix()).tmp")
        try FileSystem.write(Data(commit.utf8), to: temporary)
        try FileSystem.rename(temporary, to: url)
    }

    /// Points `snapshots/<commit>/<path>` at the blob with a relative symlink (so the cache survives being
    /// moved), replacing whatever was there in one rename.
    func link(_ repo: RepoID, commit: String, path: String, etag: String) throws(HubError) {
        let pointer = snapshotFolder(repo, commit: commit).appendingPathComponent(path)
        let depth = path.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth + 2) + "blobs/" + etag
        try FileSystem.createDirectory(pointer.deletingLastPathComponent())
        let temporary = pointer.deletingLastPathComponent()
            .appendingPathComponent(".\(pointer.lastPathComponent).\(FileSystem.uniqueSuffix()).tmp")
        try FileSystem.symlink(temporary, pointingTo: target)
        do {
            try FileSystem.rename(temporary, to: pointer)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Leaves the `.no_exist` marker huggingface_hub uses, so transformers in offline mode knows an optional
    /// file (generation_config.json, ...) is absent rather than missing from the cache. Best effort.
    func markAbsent(_ repo: RepoID, commit: String, path: String) {
        let marker = repoFolder(repo).appendingPathComponent(".no_exist", isDirectory: true)
            .appendingPathComponent(commit, isDirectory: true).appendingPathComponent(path)
        guard !FileManager.default.fileExists(atPath: marker.path) else { return }
        try? FileManager.default.createDirectory(at: marker.deletingLastPathComponent(), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: marker.path, contents: Data())
    }

    /// The CACHEDIR.TAG huggingface_hub writes so backup tools skip the cache. Best effort.
    func tagAsCache() {
        let tag = root.appendingPathComponent("CACHEDIR.TAG")
        guard !FileManager.default.fileExists(atPath: tag.path) else { return }
        let content = "Signature: 8a477f597d28d172789f06886806bc55\n"
            + "# This file is a cache directory tag created by huggingface_hub.\n"
            + "# For information about cache directory tags, see:\n"
            + "#\thttps://bford.info/cachedir/\n"
        try? Data(content.utf8).write(to: tag, options: .atomic)
    }
}
