import Foundation

/// A model repository materialised in the cache.
public struct Snapshot: Sendable, Equatable {
    public let repo: RepoID
    /// The revision asked for (branch, tag or commit).
    public let revision: String
    public let commit: String
    /// `<cache>/models--ORG--NAME/snapshots/<commit>`: the folder to load the model from.
    public let folder: URL
    /// Files whose content was transferred in this call (empty when everything was cached).
    public let downloadedFiles: [String]
    /// Bytes received over the network in this call.
    public let downloadedBytes: Int64
}

/// Downloads model repositories from the Hugging Face Hub into the shared cache.
public struct HubClient: Sendable {
    public var configuration: HubConfiguration
    public var cache: HubCache { HubCache(root: configuration.cacheDirectory) }

    public init(configuration: HubConfiguration = .fromEnvironment()) {
        self.configuration = configuration
    }

    /// The snapshot folder of `repo` at `revision` with the files a model needs (see `ModelFiles`).
    public func snapshot(repo: String, revision: String = "main", progress: ProgressHandler? = nil) async throws -> URL {
        try await download(repo: repo, revision: revision, progress: progress).folder
    }

    /// Brings `repo` at `revision` into the cache: asks the hub which commit the revision is, then fetches the
    /// configuration, tokenizer and one weight format that are not cached yet. In offline mode the cache
    /// alone answers. A commit hash whose snapshot is complete is answered from the cache without a request.
    public func download(repo repoID: String, revision: String = "main", progress: ProgressHandler? = nil) async throws -> Snapshot {
        let repo = try RepoID(repoID)
        try Revision.validate(revision)
        if configuration.offline {
            return try cachedSnapshot(repo: repo, revision: revision)
        }
        if Revision.isCommitHash(revision), let cached = try? cachedSnapshot(repo: repo, revision: revision) {
            return cached
        }
        do {
            return try await HubSession.with(configuration) { session in
                try await fetch(repo: repo, revision: revision, session: session, progress: progress)
            }
        } catch let error as HubError where error.isUnreachable {
            // As huggingface_hub does: with the hub unreachable, a complete cached snapshot still answers.
            if let cached = try? cachedSnapshot(repo: repo, revision: revision) { return cached }
            throw error
        }
    }

    /// The cached snapshot for `revision` if it holds config.json and complete weights; never touches the network.
    public func cachedSnapshot(repo: RepoID, revision: String = "main") throws -> Snapshot {
        try Revision.validate(revision)
        guard let commit = cache.commit(for: revision, in: repo) else {
            throw HubError.notInCacheOffline(repo: repo.rawValue, revision: revision, cache: cache.root.path)
        }
        let folder = cache.snapshotFolder(repo, commit: commit)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw HubError.notInCacheOffline(repo: repo.rawValue, revision: revision, cache: cache.root.path)
        }
        let missing = ModelFiles.missingFiles(inSnapshot: folder)
        guard missing.isEmpty else {
            throw HubError.incompleteSnapshot(repo: repo.rawValue, commit: commit, missing: missing)
        }
        return Snapshot(repo: repo, revision: revision, commit: commit, folder: folder, downloadedFiles: [], downloadedBytes: 0)
    }

    private func fetch(repo: RepoID, revision: String, session: HubSession, progress: ProgressHandler?) async throws -> Snapshot {
        let info = try await session.modelInfo(repo, revision: revision)
        let commit = info.commit
        let cache = self.cache
        try FileSystem.createDirectory(cache.repoFolder(repo))
        cache.tagAsCache()
        try cache.writeRef(repo, revision: revision, commit: commit)

        let plan = try ModelFiles.plan(repositoryFiles: info.files, repo: repo, revision: revision)
        for absent in plan.absentFiles { cache.markAbsent(repo, commit: commit, path: absent) }

        var files = plan.supportFiles + [plan.weightFormat.rawValue]
        var downloaded: [String] = []
        var bytes: Int64 = 0
        if plan.weightFormat.isSharded {
            // The index names the shards, so it comes first.
            let index = plan.weightFormat.rawValue
            let result = try await fetchFiles([index], repo: repo, commit: commit, session: session, progress: nil)
            downloaded += result.files
            bytes += result.bytes
            let indexURL = cache.snapshotFolder(repo, commit: commit).appendingPathComponent(index)
            let shards = try ModelFiles.shardNames(indexFile: indexURL, displayName: "\(repo)@\(commit)/\(index)")
            let available = Set(info.files)
            for shard in shards {
                try RepoPath.validate(shard, repo: repo)
                guard available.contains(shard) else {
                    throw HubError.badShardIndex(file: "\(repo)@\(commit)/\(index)", reason: "names the shard '\(shard)', which the repository does not have")
                }
            }
            files = plan.supportFiles + shards
        }
        let result = try await fetchFiles(files, repo: repo, commit: commit, session: session, progress: progress)
        downloaded += result.files
        bytes += result.bytes
        return Snapshot(
            repo: repo, revision: revision, commit: commit, folder: cache.snapshotFolder(repo, commit: commit),
            downloadedFiles: downloaded, downloadedBytes: bytes
        )
    }

    /// Fetches whichever of `paths` the snapshot lacks: metadata for all first (so errors such as 401 come
    /// before any large transfer and the total size is known), then the blobs, a few at a time.
    private func fetchFiles(
        _ paths: [String], repo: RepoID, commit: String, session: HubSession, progress: ProgressHandler?
    ) async throws -> (files: [String], bytes: Int64) {
        let cache = self.cache
        let missing = paths.filter { !cache.snapshotHasFile(repo, commit: commit, path: $0) }
        guard !missing.isEmpty else { return ([], 0) }
        let limit = configuration.maxConcurrentDownloads

        let metadata = try await concurrentMap(missing, limit: limit) { path in
            try await session.fileMetadata(repo, commit: commit, path: path)
        }
        // One transfer per blob even when several paths share content.
        let byETag = Dictionary(grouping: metadata, by: \.etag)
        let toDownload = byETag.values.compactMap { group -> FileMetadata? in
            let first = group[0]
            return FileManager.default.fileExists(atPath: cache.blobURL(repo, etag: first.etag).path) ? nil : first
        }.sorted { $0.path < $1.path }

        let totalBytes = toDownload.reduce(Int64(0)) { $0 + ($1.size ?? 0) }
        try checkDiskSpace(toDownload, repo: repo, total: totalBytes)
        let tracker = ProgressTracker(
            repo: repo.rawValue, commit: commit, totalBytes: totalBytes, totalFiles: toDownload.count, handler: progress
        )
        let downloader = BlobDownloader(session: session, cache: cache, repo: repo, commit: commit, tracker: tracker)
        _ = try await concurrentMap(toDownload, limit: limit) { file in
            try await downloader.fetch(file)
            for sibling in byETag[file.etag] ?? [] {
                try cache.link(repo, commit: commit, path: sibling.path, etag: file.etag)
            }
            tracker.fileCompleted()
        }
        // Paths whose blob was already cached (fetched by Python, or shared with another revision).
        for file in metadata where !cache.snapshotHasFile(repo, commit: commit, path: file.path) {
            try cache.link(repo, commit: commit, path: file.path, etag: file.etag)
        }
        tracker.finish()
        let transferred = toDownload.flatMap { byETag[$0.etag] ?? [] }.map(\.path).sorted()
        return (transferred, tracker.transferredBytes)
    }

    private func checkDiskSpace(_ files: [FileMetadata], repo: RepoID, total: Int64) throws(HubError) {
        let blobs = cache.repoFolder(repo).appendingPathComponent("blobs", isDirectory: true)
        try FileSystem.createDirectory(blobs)
        let onDisk = files.reduce(Int64(0)) { $0 + (FileSystem.fileSize(cache.incompleteBlobURL(repo, etag: $1.etag)) ?? 0) }
        let needed = total - onDisk
        // Some file systems report 0 free; only refuse when the answer is believable.
        if let available = FileSystem.availableSpace(blobs), available > 0, needed > available {
            throw HubError.insufficientDiskSpace(path: blobs.path, needed: needed, available: available)
        }
    }
}

/// Runs `transform` over `items` with at most `limit` at a time, keeping the input order. The first error
/// cancels the rest.
func concurrentMap<Item: Sendable, Output: Sendable>(
    _ items: [Item], limit: Int, _ transform: @escaping @Sendable (Item) async throws -> Output
) async throws -> [Output] {
    try await withThrowingTaskGroup(of: (Int, Output).self) { group in
        var results = [Output?](repeating: nil, count: items.count)
        var next = 0
        func addTask() {
            let index = next
            let item = items[index]
            group.addTask { (index, try await transform(item)) }
            next += 1
        }
        while next < min(limit, items.count) { addTask() }
        while let (index, output) = try await group.next() {
            results[index] = output
            if next < items.count { addTask() }
        }
        return results.compactMap { $0 }
    }
}
