import Foundation

/// A model repository in the cache (`kataribe models --local`).
public struct CachedModel: Sendable, Equatable, Codable {
    public let repo: String
    /// Size of the distinct blobs the snapshots use, as huggingface_hub's `scan_cache_dir` counts it.
    public let sizeOnDisk: Int64
    /// Bytes in `.incomplete` files: interrupted downloads the next run resumes.
    public let partialBytes: Int64
    public let revisions: [CachedRevision]
    public let path: String

    // `kataribe models --local --json` prints these; snake_case like every other JSON output.
    enum CodingKeys: String, CodingKey {
        case repo, revisions, path
        case sizeOnDisk = "size_on_disk", partialBytes = "partial_bytes"
    }
}

public struct CachedRevision: Sendable, Equatable, Codable {
    public let commit: String
    /// Branches and tags pointing at this commit (`refs/`).
    public let refs: [String]
    public let files: Int
    public let sizeOnDisk: Int64
    /// Whether it holds config.json and complete weights, i.e. loads without the network.
    public let isComplete: Bool
    public let path: String

    enum CodingKeys: String, CodingKey {
        case commit, refs, files, path
        case sizeOnDisk = "size_on_disk", isComplete = "is_complete"
    }
}

extension HubCache {
    /// Every model repository in the cache, sorted by id. Datasets, spaces and foreign folders are skipped.
    public func models() throws(HubError) -> [CachedModel] {
        let fileManager = FileManager.default
        guard fileManager.fileExists(atPath: root.path) else { return [] }
        let entries: [String]
        do {
            entries = try fileManager.contentsOfDirectory(atPath: root.path)
        } catch {
            throw HubError.fileSystem(path: root.path, operation: "list the cache", reason: FileSystem.reason(error))
        }
        return entries.sorted().compactMap(RepoID.init(cacheFolderName:)).map(scan)
    }

    private func scan(_ repo: RepoID) -> CachedModel {
        let fileManager = FileManager.default
        let folder = repoFolder(repo)
        let snapshots = folder.appendingPathComponent("snapshots", isDirectory: true)
        // No snapshots yet: a first download that was interrupted; still worth listing for its partial bytes.
        let commits = (try? fileManager.contentsOfDirectory(atPath: snapshots.path)) ?? []

        var refsByCommit: [String: [String]] = [:]
        let refs = folder.appendingPathComponent("refs", isDirectory: true)
        if let names = fileManager.subpaths(atPath: refs.path) {
            for name in names.sorted() {
                if let commit = commit(for: name, in: repo), !Revision.isCommitHash(name) {
                    refsByCommit[commit, default: []].append(name)
                }
            }
        }

        var allBlobs: [String: Int64] = [:]
        var revisions: [CachedRevision] = []
        for commit in commits.sorted() where !commit.hasPrefix(".") {
            let revisionFolder = snapshots.appendingPathComponent(commit, isDirectory: true)
            var blobs: [String: Int64] = [:]
            var files = 0
            for relative in fileManager.subpaths(atPath: revisionFolder.path) ?? [] {
                let file = revisionFolder.appendingPathComponent(relative)
                let resolved = file.resolvingSymlinksInPath()
                guard let attributes = try? fileManager.attributesOfItem(atPath: resolved.path),
                      attributes[.type] as? FileAttributeType == .typeRegular,
                      let size = attributes[.size] as? NSNumber
                else { continue }
                files += 1
                blobs[resolved.path] = size.int64Value
            }
            allBlobs.merge(blobs) { first, _ in first }
            revisions.append(CachedRevision(
                commit: commit, refs: refsByCommit[commit] ?? [], files: files,
                sizeOnDisk: blobs.values.reduce(0, +),
                isComplete: ModelFiles.missingFiles(inSnapshot: revisionFolder).isEmpty,
                path: revisionFolder.path
            ))
        }
        let blobFolder = folder.appendingPathComponent("blobs", isDirectory: true)
        let partial = (try? fileManager.contentsOfDirectory(atPath: blobFolder.path))?
            .filter { $0.hasSuffix(".incomplete") }
            .reduce(Int64(0)) { $0 + (FileSystem.fileSize(blobFolder.appendingPathComponent($1)) ?? 0) } ?? 0
        return CachedModel(
            repo: repo.rawValue, sizeOnDisk: allBlobs.values.reduce(0, +), partialBytes: partial,
            revisions: revisions, path: folder.path
        )
    }
}
