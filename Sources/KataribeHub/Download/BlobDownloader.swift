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

        do {
            try await transfer(file, into: partial, verifier: &verifier)
        } catch let error as HubError {
            // An empty partial file is no head start, and its presence would only suggest one.
            if partial.size == 0 { FileSystem.remove(partial.url) }
            throw error.keeping(partial.size > 0 ? PartialDownload(path: partial.url.path, bytes: partial.size) : nil)
        }

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
    /// disk, and an attempt that got further than any before resets the retry count (as huggingface_hub's
    /// `http_get`). Bounded three ways: the retry count, `maxAttemptsPerFile`, and restarts from zero
    /// counting as failures.
    private func transfer(_ file: FileMetadata, into partial: BlobFile, verifier: inout BlobVerifier) async throws {
        let policy = session.configuration.retry
        var budget = RetryBudget(policy)
        // Progress is measured against the furthest point reached, not the size before the attempt: a
        // server that makes us restart from zero and then drops the connection again would otherwise look
        // like progress every time and never use up the budget.
        var furthest = partial.size
        for attempt in 1... {
            if let expected = file.size, partial.size == expected { return }
            let outcome: AttemptOutcome
            do {
                outcome = try await self.attempt(file, into: partial, verifier: &verifier)
            } catch let failure as TransientFailure {
                if partial.size > furthest {
                    furthest = partial.size
                    budget.progressMade()
                }
                guard attempt < policy.maxAttemptsPerFile,
                      let delay = budget.delay(afterConnectFailure: failure.isConnectFailure)
                else { throw failure.finalError }
                try await Task.sleep(for: delay)
                continue
            }
            guard case .restart(let reason) = outcome else { return }
            // The bytes on disk cannot be continued from what the server sends: start over from byte 0.
            tracker.discarded(partial.size)
            try partial.truncate()
            verifier.reset()
            guard attempt < policy.maxAttemptsPerFile, let delay = budget.delay(afterConnectFailure: false) else {
                FileSystem.remove(partial.url)
                throw HubError.badRangeResponse(repo: repo.rawValue, path: file.path, reason: reason)
            }
            try await Task.sleep(for: delay)
        }
    }

    private enum AttemptOutcome {
        /// The body was received in full (its size and hash are checked afterwards).
        case finished
        /// The answer cannot continue the partial file; nothing of it was written.
        case restart(reason: String)
    }

    /// One GET from the end of the partial file.
    private func attempt(_ file: FileMetadata, into partial: BlobFile, verifier: inout BlobVerifier) async throws -> AttemptOutcome {
        let context = RequestContext.file(repo: repo, revision: commit, path: file.path)
        let offset = partial.size
        let (response, url) = try await session.openTransfer(file.downloadURL, from: offset, context: context)
        // Returning without reading `response.body` drops it, which cancels the request: an answer we
        // refuse can be as large as the file, so it is not drained.
        let status = Int(response.status.code)
        if status == 416 {
            // With the size unknown, a partial file may already be all there is: accept it and let the hash
            // decide. From byte 0, or with the size known (a complete file never gets here), it is nonsense.
            if file.size == nil && offset > 0 { return .finished }
            return .restart(reason: "416 Range Not Satisfiable for a request from byte \(offset)")
        }
        if status == 206 {
            if let problem = ContentRange.problem(
                response.headers.first(name: "Content-Range"), offset: offset, expectedSize: file.size,
                contentLength: response.headers.first(name: "Content-Length")
            ) {
                return .restart(reason: problem)
            }
        } else if offset > 0 {
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
            // The connection ended early without an error (no Content-Length on a chunked body), or the
            // server sent a shorter range than asked for; the next attempt continues from here.
            throw TransientFailure(finalError: .network(url: url, reason: "the transfer ended early"))
        }
        return .finished
    }
}

/// `Content-Range: bytes FIRST-LAST/COMPLETE` (RFC 9110 §14.4), COMPLETE being `*` when unknown.
struct ContentRange: Equatable {
    let first: Int64
    let last: Int64
    let complete: Int64?

    /// Parses the one form a 206 answer to a single range has; nil for anything else.
    init?(_ header: String) {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].lowercased() == "bytes" else { return nil }
        let rangeAndLength = parts[1].split(separator: "/", omittingEmptySubsequences: false)
        guard rangeAndLength.count == 2 else { return nil }
        let bounds = rangeAndLength[0].split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Self.number(bounds[0]), let last = Self.number(bounds[1]), first <= last
        else { return nil }
        var complete: Int64?
        if rangeAndLength[1] != "*" {
            guard let length = Self.number(rangeAndLength[1]), last < length else { return nil }
            complete = length
        }
        (self.first, self.last, self.complete) = (first, last, complete)
    }

    /// Digits only: `Int64(_:)` would also take a sign.
    private static func number(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int64(text)
    }

    /// Why a 206 answer cannot continue a partial file of `offset` bytes, nil when it can. Appending a body
    /// that starts anywhere else would shift every byte after the seam; the hash would catch that, but
    /// only after the whole transfer, and a resume would then meet the same answer again.
    static func problem(_ header: String?, offset: Int64, expectedSize: Int64?, contentLength: String?) -> String? {
        guard let header else { return "a 206 answer without Content-Range" }
        let quoted = ServerText.sanitized(header, limit: 80)
        guard let range = ContentRange(header) else { return "malformed Content-Range '\(quoted)'" }
        if range.first != offset {
            return "Content-Range '\(quoted)' starts at byte \(range.first), but the request asked for byte \(offset)"
        }
        if let expectedSize, let complete = range.complete, complete != expectedSize {
            return "Content-Range '\(quoted)' gives the file \(complete) bytes, but the hub announced \(expectedSize)"
        }
        if let contentLength, Int64(contentLength) != range.last - range.first + 1 {
            return "Content-Length \(ServerText.sanitized(contentLength, limit: 30)) does not match Content-Range '\(quoted)'"
        }
        return nil
    }
}

/// Checks a blob against its ETag: a 64-hex ETag is the sha256 of an LFS file, a 40-hex one the git blob
/// sha1 of a small file. Other ETags (non-hub servers) cannot be checked and are accepted.
struct BlobVerifier {
    private enum Kind { case sha256(SHA256), gitSHA1(SHA1, size: Int64), none }
    private var kind: Kind
    private let etag: String
    private let size: Int64?

    init(etag: String, size: Int64?) {
        // Digests come out in lower case; a hash announced in upper case is the same hash.
        self.etag = isHexHash(etag) ? etag.lowercased() : etag
        self.size = size
        kind = .none
        reset()
    }

    mutating func reset() {
        let isHex = isHexHash(etag)
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
    func mismatch() -> String? {
        let actual: String
        switch kind {
        case .sha256(let hasher): actual = hasher.finalizeHex()
        case .gitSHA1(let hasher, _): actual = hasher.finalizeHex()
        case .none: return nil
        }
        return actual == etag ? nil : actual
    }
}
