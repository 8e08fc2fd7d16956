import Foundation
import KataribeTemplates

/// Reads the reference fixture keeping object key order (Foundation's JSONSerialization does not),
/// because a template prints dicts and `tojson` output in insertion order.
struct FixtureJSON {
    private let bytes: [UInt8]
    private var i = 0

    static func parse(_ data: Data) throws -> TemplateValue {
        var parser = FixtureJSON(bytes: Array(data))
        parser.skipSpace()
        let value = try parser.value()
        parser.skipSpace()
        guard parser.i == parser.bytes.count else { throw Failure.trailing }
        return value
    }

    enum Failure: Error { case unexpected(Int), trailing }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func value() throws -> TemplateValue {
        guard i < bytes.count else { throw Failure.unexpected(i) }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(String, TemplateValue)] = []
            skipSpace()
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard case .string(let key) = try value() else { throw Failure.unexpected(i) }
                skipSpace()
                guard bytes[i] == UInt8(ascii: ":") else { throw Failure.unexpected(i) }
                i += 1
                skipSpace()
                members.append((key, try value()))
                skipSpace()
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                guard bytes[i] == UInt8(ascii: "}") else { throw Failure.unexpected(i) }
                i += 1
                return .object(members)
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [TemplateValue] = []
            skipSpace()
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value())
                skipSpace()
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                guard bytes[i] == UInt8(ascii: "]") else { throw Failure.unexpected(i) }
                i += 1
                return .array(items)
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            i += 4
            return .bool(true)
        case UInt8(ascii: "f"):
            i += 5
            return .bool(false)
        case UInt8(ascii: "n"):
            i += 4
            return .none
        default:
            let start = i
            var isDouble = false
            while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) {
                if ".eE".utf8.contains(bytes[i]) { isDouble = true }
                i += 1
            }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            if !isDouble, let n = Int(text) { return .int(n) }
            guard let d = Double(text) else { throw Failure.unexpected(start) }
            return .double(d)
        }
    }

    private mutating func string() throws -> String {
        i += 1
        var units: [UInt16] = []
        var raw: [UInt8] = []
        func flushRaw() {
            units.append(contentsOf: String(decoding: raw, as: UTF8.self).utf16)
            raw.removeAll()
        }
        while true {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; break }
            if b == UInt8(ascii: "\\") {
                flushRaw()
                let e = bytes[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): units.append(0x0A)
                case UInt8(ascii: "t"): units.append(0x09)
                case UInt8(ascii: "r"): units.append(0x0D)
                case UInt8(ascii: "b"): units.append(0x08)
                case UInt8(ascii: "f"): units.append(0x0C)
                case UInt8(ascii: "u"):
                    units.append(UInt16(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16)!)
                    i += 4
                default: units.append(UInt16(e))
                }
                continue
            }
            raw.append(b)
            i += 1
        }
        flushRaw()
        return String(decoding: units, as: UTF16.self)
    }
}

extension TemplateValue {
    subscript(key: String) -> TemplateValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var arrayValue: [TemplateValue] {
        if case .array(let items) = self { return items }
        return []
    }

    var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
}
