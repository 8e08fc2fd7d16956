/// sentencepiece's `normalizer::Normalizer`: user-defined symbols pass through untouched, every
/// other character is rewritten by the longest rule of the precompiled charsmap, then whitespace is
/// handled (optional removal of leading/trailing/repeated spaces, " " -> U+2581, dummy prefix).
struct SentencePieceNormalizer: Sendable {
    let charsMap: PrecompiledCharsMap?
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    let treatWhitespaceAsSuffix: Bool
    /// User-defined symbols, matched longest-first before normalization.
    let userDefinedSymbols: DoubleArrayTrie?

    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]  // U+2581

    /// Normalizes valid UTF-8 `input`.
    func normalize(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        guard !input.isEmpty else { return output }
        output.reserveCapacity(input.count + input.count / 2 + 3)
        var position = 0

        if removeExtraWhitespaces {
            while position < input.count {
                let rule = normalizePrefix(input, at: position)
                guard rule.count == 1, byte(rule, 0, input) == 0x20 else { break }
                position += rule.consumed
            }
        }
        if position == input.count { return output }

        if !treatWhitespaceAsSuffix && addDummyPrefix { appendSpace(to: &output) }

        var previousWasSpace = removeExtraWhitespaces
        while position < input.count {
            let rule = normalizePrefix(input, at: position)
            if rule.source == .input && rule.count > 1 && rule.count == UTF8Bytes.sequenceLength(lead: input[rule.start]) {
                // The common case: one unchanged multi-byte character (it cannot contain a space).
                output.append(contentsOf: UnsafeBufferPointer(rebasing: input[rule.start..<(rule.start + rule.count)]))
                previousWasSpace = false
                position += rule.consumed
                continue
            }
            var start = 0
            if previousWasSpace {
                while start < rule.count && byte(rule, start, input) == 0x20 { start += 1 }
            }
            if start < rule.count {
                for index in start..<rule.count {
                    let value = byte(rule, index, input)
                    if escapeWhitespaces && value == 0x20 {
                        output.append(contentsOf: Self.spaceSymbol)
                    } else {
                        output.append(value)
                    }
                }
                previousWasSpace = byte(rule, rule.count - 1, input) == 0x20
            }
            position += rule.consumed
            if !removeExtraWhitespaces { previousWasSpace = false }
        }

        if removeExtraWhitespaces {
            let space: [UInt8] = escapeWhitespaces ? Self.spaceSymbol : [0x20]
            while output.count >= space.count && output[(output.count - space.count)...].elementsEqual(space) {
                output.removeLast(space.count)
            }
        }
        if treatWhitespaceAsSuffix && addDummyPrefix { appendSpace(to: &output) }
        return output
    }

    /// Where the normalized bytes of one step come from, without copying them.
    struct Rule {
        enum Source { case input, charsMap, replacementCharacter }
        var source: Source
        var start: Int
        var count: Int
        var consumed: Int
    }

    @inline(__always)
    private func byte(_ rule: Rule, _ index: Int, _ input: UnsafeBufferPointer<UInt8>) -> UInt8 {
        switch rule.source {
        case .input: return input[rule.start + index]
        case .charsMap: return charsMap?.replacements[rule.start + index] ?? 0
        case .replacementCharacter: return [0xEF, 0xBF, 0xBD][index]
        }
    }

    private func appendSpace(to output: inout [UInt8]) {
        if escapeWhitespaces { output.append(contentsOf: Self.spaceSymbol) } else { output.append(0x20) }
    }

    /// The normalized form of the character (or user-defined symbol, or charsmap rule) at
    /// `position`, and how many input bytes it consumed.
    @inline(__always)
    func normalizePrefix(_ input: UnsafeBufferPointer<UInt8>, at position: Int) -> Rule {
        if let userDefinedSymbols, let (length, _) = userDefinedSymbols.longestPrefix(of: input, from: position) {
            return Rule(source: .input, start: position, count: length, consumed: length)
        }
        if let charsMap, let (length, value) = charsMap.longestMatch(input, from: position) {
            let replacement = charsMap.replacement(at: value)
            return Rule(source: .charsMap, start: replacement.startIndex, count: replacement.count, consumed: length)
        }
        if let length = UTF8Bytes.validSequenceLength(input, at: position) {
            return Rule(source: .input, start: position, count: length, consumed: length)
        }
        // Malformed UTF-8: one byte becomes U+FFFD (cannot happen for Swift strings).
        return Rule(source: .replacementCharacter, start: 0, count: 3, consumed: 1)
    }
}
