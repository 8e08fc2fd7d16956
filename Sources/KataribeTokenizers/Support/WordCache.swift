import Foundation

/// A bounded cache from words (bytes) to token ids, shared by concurrent encodes.
///
/// An encode takes the lock with `try` once and works without the cache when another thread holds
/// it, so concurrent encodes never wait on each other. The cache is cleared when full.
final class WordCache: @unchecked Sendable {
    private let lock = NSLock()
    private var index: BytesMap
    private var idArena: [Int32] = []
    private var spans: [(start: Int32, count: Int32)] = []
    private let capacity: Int
    /// Words longer than this are not cached (as in `tokenizers`, they are rarely repeated).
    let maximumWordLength = 256

    init(capacity: Int = 100_000) {
        self.capacity = capacity
        index = BytesMap(capacity: 1024)
    }

    /// Runs `body` with exclusive access, or with nil when the cache is busy.
    func withAccess<R>(_ body: (WordCache?) -> R) -> R {
        if lock.try() {
            defer { lock.unlock() }
            return body(self)
        }
        return body(nil)
    }

    @inline(__always)
    func lookup(_ word: UnsafeBufferPointer<UInt8>, into ids: inout [Int]) -> Bool {
        guard let slot = index.get(word) else { return false }
        let span = spans[Int(slot)]
        for k in Int(span.start)..<Int(span.start + span.count) { ids.append(Int(idArena[k])) }
        return true
    }

    func store(_ word: UnsafeBufferPointer<UInt8>, ids: ArraySlice<Int>) {
        guard word.count <= maximumWordLength else { return }
        if spans.count >= capacity {
            index = BytesMap(capacity: 1024)
            idArena.removeAll(keepingCapacity: true)
            spans.removeAll(keepingCapacity: true)
        }
        spans.append((Int32(idArena.count), Int32(ids.count)))
        for id in ids { idArena.append(Int32(truncatingIfNeeded: id)) }
        index.set(word, Int32(spans.count - 1))
    }
}
