/// `NFC`, `NFD`, `NFKC`, `NFKD`.
struct UnicodeFormNormalizer: HFNormalizer {
    let form: NormalizationForm

    func normalize(_ text: inout NormalizedText) {
        text.bytes = form.apply(text.bytes)
    }
}
