/// `WordLevel`: each split is looked up whole; unknown words become the unknown token.
struct WordLevelModel: HFModel {
    let vocabulary: BytesMap
    let tokens: [[UInt8]?]
    let unknownToken: [UInt8]

    var vocabularyCount: Int { vocabulary.count }
    func tokenToID(_ token: [UInt8]) -> Int? { vocabulary[token].map(Int.init) }
    func idToToken(_ id: Int) -> [UInt8]? { id >= 0 && id < tokens.count ? tokens[id] : nil }

    func tokenize(_ splits: SplitList, into output: inout EncodingOutput) {
        var text = splits
        text.materializeByteLevel()
        text.buffer.withUnsafeBufferPointer { buffer in
            for split in text.splits {
                let word = UnsafeBufferPointer(rebasing: buffer[split.start..<split.end])
                if let id = vocabulary.get(word) {
                    output.append(Int(id), piece: UTF8Bytes.string(word))
                } else if let id = vocabulary[unknownToken] {
                    // `tokenizers` fails the encode when the unknown token is missing; here the word is dropped.
                    output.append(Int(id), piece: UTF8Bytes.string(unknownToken))
                }
            }
        }
    }
}
