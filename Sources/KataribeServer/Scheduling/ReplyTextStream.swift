import KataribeApp
import KataribeGeneration

/// Turns a sample's detokenized deltas into the text a client may see now: with OpenAI stop
/// semantics nothing from a stop string on is ever released (a tail that could still grow into one
/// is held back), and the prompt format's reply conventions apply (`ReplyTextFilter`). The pieces add
/// up to the sample's final text, as with `kataribe generate`.
struct ReplyTextStream {
    private var filter: ReplyTextFilter
    private var matcher: StopStringMatcher?
    private var releasedScalars = 0
    /// Unicode scalars handed out so far (the offset where the next released text starts).
    private(set) var shownScalars = 0

    init(format: PromptFormat, parameters: ResolvedGenerationParameters) {
        filter = ReplyTextFilter(format: format)
        if parameters.stopStringHandling == .strip && !parameters.stopStrings.isEmpty {
            matcher = StopStringMatcher(stopStrings: parameters.stopStrings)
        }
    }

    mutating func push(_ delta: String) -> String {
        guard var m = matcher else { return count(filter.push(delta)) }
        m.append(delta)
        matcher = m
        return count(filter.push(release(upTo: m.safePrefixLength)))
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
        return count(out + filter.finish())
    }

    private mutating func count(_ text: String) -> String {
        shownScalars += text.unicodeScalars.count
        return text
    }

    private mutating func release(upTo end: Int) -> String {
        guard let m = matcher, end > releasedScalars else { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: m.scalars[releasedScalars..<end])
        releasedScalars = end
        return String(view)
    }
}
