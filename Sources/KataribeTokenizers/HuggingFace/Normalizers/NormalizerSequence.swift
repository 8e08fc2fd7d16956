/// `Sequence` of normalizers, applied in order.
struct NormalizerSequence: HFNormalizer {
    let normalizers: [any HFNormalizer]

    func normalize(_ text: inout NormalizedText) {
        for normalizer in normalizers { normalizer.normalize(&text) }
    }
}

/// `ByteLevel` as a normalizer: every byte becomes its byte-level alphabet character.
struct ByteLevelNormalizer: HFNormalizer {
    func normalize(_ text: inout NormalizedText) {
        text.bytes = ByteLevelAlphabet.encode(text.bytes)
    }
}
