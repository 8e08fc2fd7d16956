import AsyncHTTPClient
import Foundation
import NIOCore

/// Fetches one blob into `blobs/<etag>.incomplete`, resuming with HTTP Range after an interruption (in
/// this run or an earlier one), verifies size and hash, then renames it to `blobs/<etag>`. A partial or
/// corrupt transfer is never visible under the final name.
struct BlobDownloader {
    let session: HubSession
    let cache: HubCache
    let repo: RepoID
    let commit: String
    let tracker: ProgressTracker

    /// Downloads the blob unless it already exists; the caller links snapshot paths to it afterwards.
    func fetch(_ file: FileMetadata) async throws {
        let blob = cache.blobURL(repo, etag: file.etag)
        try FileSystem.createDirectory(blob.deletingLastPathComponent())
        let lock = try await FileLock.acquire(cache.lockURL(repo, etag: file.etag))
        defer { withExtendedLifetime(lock) {} }
        // Another process may have finished it while we waited for the lock.
        if FileManager.default.fileExists(atPath: blob.path) {
            tracker.resumed(file.size ?? 0)
            return
        }

        let partial = try BlobFile(openingOrCreating: cache.incompleteBlobURL(repo, etag: file.etag))
        if let expected = file.size, partial.size > expected { try partial.truncate() }
        var verifier = BlobVerifier(etag: file.etag, size: file.size)
        if partial.size > 0 {
            try partial.readAll { verifier.update($0) }
            tracker.resumed(partial.size)
        }

        try await transfer(file, into: partial, verifier: &verifier)

        if let expected = file.size, partial.size != expected {
            tracker.discarded(partial.size)
            FileSystem.remove(partial.url)
            throw HubError.sizeMismatch(repo: repo.rawValue, path: file.path, expected: expected, actual: partial.size)
        }
        if let actual = verifier.mismatch() {
            // The bytes on disk are wrong, so resuming from them would never succeed: start over next time.
            tracker.discarded(partial.size)
            FileSystem.remove(partial.url)
            throw HubError.checksumMismatch(repo: repo.rawValue, path: file.path, expected: file.etag, actual: actual)
        }
        try partial.sync()
        try FileSystem.rename(partial.url, to: blob)
    }

    /// Streams the body, retrying with backoff on transient failures; each retry resumes from what is on
    /// disk, and an attempt that received data resets the retry count (as huggingface_hub's `http_get`).
    private func transfer(_ file: FileMetadata, into partial: BlobFile, verifier: inout BlobVerifier) async throws {
        let retry = session.configuration.retry
        var failures = 0
        while true {
            if let expected = file.size, partial.size == expected { return }
            let before = partial.size
            do {
                let finished = try await attempt(file, into: partial, verifier: &verifier)
                if finished { return }
                // 416 on a partial file that is not the full size: its prefix is unusable; start over.
                tracker.discarded(partial.size)
                try partial.truncate()
                verifier.reset()
            } catch let failure as TransientFailure {
                if partial.size > before { failures = 0 }
                guard failures < retry.maxRetries else { throw failure.finalError }
                try await Task.sleep(for: retry.delay(afterAttempt: failures))
                failures += 1
            }
        }
    }

    /// One GET; returns false when the server refused the range (416) so the caller restarts from zero.
    private func attempt(_ file: FileMetadata, into partial: BlobFile, verifier: inout BlobVerifier) async throws -> Bool {
        let context = RequestContext.file(repo: repo, revision: commit, path: file.path)
        let offset = partial.size
        let (response, url) = try await session.openTransfer(file.downloadURL, from: offset, context: context)
        let status = Int(response.status.code)
        if status == 416 {
            _ = try? await response.body.collect(upTo: 1 << 20)
            // Everything was already there when the size is unknown: accept and let the hash decide.
            return file.size == nil
        }
        if offset > 0 && !(status == 206 && contentRangeStart(response.headers.first(name: "Content-Range")) == offset) {
            // The server ignored the range (200): the body is the whole file, so drop the prefix.
            tracker.discarded(partial.size)
            try partial.truncate()
            verifier.reset()
        }
        do {
            for try await chunk in response.body {
                try chunk.withUnsafeReadableBytes { bytes in
                    try partial.append(bytes)
                    verifier.update(bytes)
                }
                tracker.received(Int64(chunk.readableBytes))
                if let expected = file.size, partial.size > expected {
                    throw HubError.sizeMismatch(repo: repo.rawValue, path: file.path, expected: expected, actual: partial.size)
                }
            }
        } catch let error as HubError {
            if case .sizeMismatch = error {
                tracker.discarded(partial.size)
                FileSystem.remove(partial.url)
            }
            throw error
        } catch {
            throw session.classify(error, url: url)
        }
        if let expected = file.size, partial.size < expected {
            // The connection ended early without an error (no Content-Length on a chunked body).
            throw TransientFailure(finalError: .network(url: url, reason: "the transfer ended early"))
        }
        return true
    }
}

/// `bytes 100-199/200` -> 100.
private func contentRangeStart(_ header: String?) -> Int64? {
    guard let header, header.hasPrefix("bytes ") else { return nil }
    return header.dropFirst(6).split(separator: "-").first.flatMap { Int64($0) }
}

/// Checks a blob against its ETag: a 64-hex ETag is the sha256 of an LFS file, a 40-hex one the git blob
/// sha1 of a small file. Other ETags (non-hub servers) cannot be checked and are accepted.
struct BlobVerifier {
    private enum Kind { case sha256(SHA256), gitSHA1(SHA1, size: Int64), none }
    private var kind: Kind
    private let etag: String
    private let size: Int64?

    init(etag: String, size: Int64?) {
        self.etag = etag
        self.size = size
        kind = .none
        reset()
    }

    mutating func reset() {
        let isHex = etag.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
        if isHex && etag.utf8.count == 64 {
            kind = .sha256(SHA256())
        } else if isHex && etag.utf8.count == 40, let size {
            kind = .gitSHA1(SHA1.gitBlob(size: size), size: size)
        } else {
            kind = .none
        }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch kind {
        case .sha256(var hasher):
            kind = .none  // keep the hasher uniquely referenced while it is mutated
            hasher.update(bytes)
            kind = .sha256(hasher)
        case .gitSHA1(var hasher, let size):
            kind = .none
            hasher.update(bytes)
            kind = .gitSHA1(hasher, size: size)
        case .none:
            break
        }
    }

    /// The actual digest when it differs from the ETag, nil when it matches or cannot be checked.
    mutating func mismatch() -> String? {
        let actual: String
        switch kind {
        case .sha256(var hasher): actual = hasher.finalizeHex()
        case .gitSHA1(var hasher, _): actual = hasher.finalizeHex()
        case .none: return nil
        }
        return actual == etag ? nil : actual
    }
}
