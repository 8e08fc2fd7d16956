/// `Prepend`: adds a prefix to non-empty text.
struct PrependNormalizer: HFNormalizer {
    let prefix: [UInt8]

    func normalize(_ text: inout NormalizedText) {
        guard !text.bytes.isEmpty else { return }
        text.bytes.insert(contentsOf: prefix, at: 0)
    }
}
