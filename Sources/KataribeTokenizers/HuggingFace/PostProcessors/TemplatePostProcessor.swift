/// `TemplateProcessing` (single-sequence template): with `add_special_tokens`, the sequence is
/// placed among the template's special tokens, e.g. `$A </s>`.
struct TemplatePostProcessor: HFPostProcessor {
    enum Piece: Sendable {
        case sequence
        case special(ids: [Int], tokens: [String])
    }

    let single: [Piece]

    func process(_ output: inout EncodingOutput, addSpecialTokens: Bool) {
        guard addSpecialTokens else { return }
        var result = EncodingOutput(collectPieces: output.collectPieces)
        for piece in single {
            switch piece {
            case .sequence:
                result.ids.append(contentsOf: output.ids)
                if output.collectPieces { result.pieces.append(contentsOf: output.pieces) }
            case let .special(ids, tokens):
                for (index, id) in ids.enumerated() {
                    result.append(id, piece: index < tokens.count ? tokens[index] : "")
                }
            }
        }
        output = result
    }
}

/// `BertProcessing` / `RobertaProcessing`: `[CLS] $A [SEP]` with `add_special_tokens`.
struct ClassifierPostProcessor: HFPostProcessor {
    let cls: (id: Int, token: String)
    let sep: (id: Int, token: String)

    func process(_ output: inout EncodingOutput, addSpecialTokens: Bool) {
        guard addSpecialTokens else { return }
        var result = EncodingOutput(collectPieces: output.collectPieces)
        result.append(cls.id, piece: cls.token)
        result.ids.append(contentsOf: output.ids)
        if output.collectPieces { result.pieces.append(contentsOf: output.pieces) }
        result.append(sep.id, piece: sep.token)
        output = result
    }
}

/// `ByteLevel` as a post-processor only adjusts offsets, which Kataribe does not report.
struct PassThroughPostProcessor: HFPostProcessor {
    func process(_ output: inout EncodingOutput, addSpecialTokens: Bool) {}
}

/// `Sequence` of post-processors.
struct PostProcessorSequence: HFPostProcessor {
    let processors: [any HFPostProcessor]

    func process(_ output: inout EncodingOutput, addSpecialTokens: Bool) {
        for processor in processors { processor.process(&output, addSpecialTokens: addSpecialTokens) }
    }
}
