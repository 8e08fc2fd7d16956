/// `Lowercase`: Rust's `char::to_lowercase` (full, context-free mappings) per scalar.
struct LowercaseNormalizer: HFNormalizer {
    func normalize(_ text: inout NormalizedText) {
        var out: [UInt8] = []
        out.reserveCapacity(text.bytes.count)
        text.bytes.withUnsafeBufferPointer { buffer in
            var i = 0
            while i < buffer.count {
                let byte = buffer[i]
                if byte < 0x80 {
                    out.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte)
                    i += 1
                    continue
                }
                let (scalar, length) = UTF8Bytes.decode(buffer, at: i)
                if let value = Unicode.Scalar(scalar) {
                    for lowered in value.properties.lowercaseMapping.unicodeScalars { UTF8Bytes.append(lowered.value, to: &out) }
                } else {
                    out.append(contentsOf: buffer[i..<(i + length)])
                }
                i += length
            }
        }
        text.bytes = out
    }
}
