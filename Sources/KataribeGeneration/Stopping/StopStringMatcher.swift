/// Finds stop strings in generated text that arrives in pieces (one decoded delta per token), so a
/// stop string split across token boundaries is found the moment its last character arrives, like
/// transformers' `StopStringCriteria`. Matching is on Unicode scalars (what Python's `in` compares),
/// and only the region a new delta can complete is searched.
public struct StopStringMatcher: Sendable {
    public let stopStrings: [String]
    private let patterns: [[Unicode.Scalar]]
    private let longest: Int
    /// All text seen so far, as scalars.
    public private(set) var scalars: [Unicode.Scalar] = []
    /// Scalar offset where the earliest-ending match starts, once one is found.
    public private(set) var matchStart: Int?
    /// The stop string that matched.
    public private(set) var matchedStopString: String?

    public init(stopStrings: [String]) {
        self.stopStrings = stopStrings
        patterns = stopStrings.map { Array($0.unicodeScalars) }
        longest = patterns.map(\.count).max() ?? 0
    }

    /// Appends the text decoded for the newest token(s); true when a stop string is (now) present.
    /// Among several stop strings completed by one delta, the one that ends first wins, then the
    /// one that starts first.
    @discardableResult
    public mutating func append(_ delta: String) -> Bool {
        if matchStart != nil { scalars.append(contentsOf: delta.unicodeScalars); return true }
        let oldCount = scalars.count
        scalars.append(contentsOf: delta.unicodeScalars)
        guard longest > 0, scalars.count > oldCount else { return false }
        var best: (end: Int, start: Int, index: Int)?
        for (index, pattern) in patterns.enumerated() where !pattern.isEmpty {
            // A new match must end inside the delta, so it starts at or after oldCount - (len - 1).
            var start = Swift.max(0, oldCount - pattern.count + 1)
            while start + pattern.count <= scalars.count {
                if scalarsMatch(pattern, at: start) {
                    let candidate = (end: start + pattern.count, start: start, index: index)
                    if best == nil || candidate.end < best!.end || (candidate.end == best!.end && candidate.start < best!.start) {
                        best = candidate
                    }
                    break
                }
                start += 1
            }
        }
        guard let best else { return false }
        matchStart = best.start
        matchedStopString = stopStrings[best.index]
        return true
    }

    /// The text so far; with `.strip` and a match, everything from the stop string on is removed.
    public func text(_ handling: StopStringHandling) -> String {
        var view = String.UnicodeScalarView()
        if handling == .strip, let matchStart {
            view.append(contentsOf: scalars[..<matchStart])
        } else {
            view.append(contentsOf: scalars)
        }
        return String(view)
    }

    /// How many scalars a streaming client may show now under `.strip`: everything before a match,
    /// or, without one, everything except a trailing part that could still grow into a stop string.
    public var safePrefixLength: Int {
        if let matchStart { return matchStart }
        var holdBack = 0
        for pattern in patterns {
            let maxOverlap = Swift.min(pattern.count - 1, scalars.count)
            guard maxOverlap > holdBack else { continue }
            for length in stride(from: maxOverlap, to: holdBack, by: -1)
            where scalars[(scalars.count - length)...].elementsEqual(pattern[..<length]) {
                holdBack = length
                break
            }
        }
        return scalars.count - holdBack
    }

    private func scalarsMatch(_ pattern: [Unicode.Scalar], at start: Int) -> Bool {
        for k in pattern.indices where scalars[start + k] != pattern[k] { return false }
        return true
    }
}
