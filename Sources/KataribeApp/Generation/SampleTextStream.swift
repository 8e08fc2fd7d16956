import KataribeGeneration

/// Turns a sample's decoded deltas into the chunks a user sees: under `.strip`, text that is or may
/// become a stop string is held back (and never shown once matched); then the prompt format's reply
/// conventions apply (`ReplyTextFilter`).
struct SampleTextStream {
    private var filter: ReplyTextFilter
    private var matcher: StopStringMatcher?
    private var shownScalars = 0

    init(format: PromptFormat, parameters: ResolvedGenerationParameters) {
        filter = ReplyTextFilter(format: format)
        if parameters.stopStringHandling == .strip && !parameters.stopStrings.isEmpty {
            matcher = StopStringMatcher(stopStrings: parameters.stopStrings)
        }
    }

    mutating func push(_ delta: String) -> String {
        guard var m = matcher else { return filter.push(delta) }
        m.append(delta)
        matcher = m
        return filter.push(release(upTo: m.safePrefixLength))
    }

    /// `tail`: the detokenizer's held-back text at the end.
    mutating func finish(_ tail: String) -> String {
        var out = ""
        if var m = matcher {
            m.append(tail)
            matcher = m
            out += filter.push(release(upTo: m.matchStart ?? m.scalars.count))
        } else {
            out += filter.push(tail)
        }
        return out + filter.finish()
    }

    private mutating func release(upTo end: Int) -> String {
        guard let m = matcher, end > shownScalars else { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: m.scalars[shownScalars..<end])
        shownScalars = end
        return String(view)
    }
}
