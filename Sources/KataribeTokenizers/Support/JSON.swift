/// A parsed JSON document. Object members keep their order (tokenizer.json vocabularies are
/// objects with tens of thousands of members, read once in order).
///
/// Hand-written for exact parity: Foundation's JSONSerialization and Codable lose member order
/// (merges and added tokens depend on it) and no package on the offline list keeps it.
enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

struct JSONObject: Sendable {
    var members: [(key: String, value: JSONValue)]

    /// The value of the last member named `key` (later duplicates win, as in serde maps).
    subscript(key: String) -> JSONValue? {
        for member in members.reversed() where member.key.utf8.elementsEqual(key.utf8) {
            return member.value
        }
        return nil
    }
}

/// A strict JSON (RFC 8259) parser over UTF-8 bytes. Rejects what serde_json rejects: invalid
/// UTF-8, raw control characters in strings, lone surrogate escapes, trailing garbage.
struct JSONParser {
    struct Failure: Error {
        let offset: Int
        let reason: String
    }

    static let maximumDepth = 512

    static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        guard UTF8Bytes.isValid(bytes) else { throw Failure(offset: firstInvalidUTF8Offset(bytes), reason: "invalid UTF-8") }
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw Failure(offset: parser.position, reason: "trailing characters") }
        return value
    }

    private static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBufferPointer { buffer in
            var i = 0
            while i < buffer.count {
                guard let length = UTF8Bytes.validSequenceLength(buffer, at: i) else { return i }
                i += length
            }
            return i
        }
    }

    private let bytes: [UInt8]
    private var position = 0

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private func fail(_ reason: String) -> Failure { Failure(offset: position, reason: reason) }

    private mutating func parseValue(depth: Int) throws(Failure) -> JSONValue {
        guard depth < Self.maximumDepth else { throw fail("nesting deeper than \(Self.maximumDepth)") }
        guard position < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw fail("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw fail("unexpected end of input") }
        let pointer = literal.utf8Start
        for i in 0..<count where bytes[position + i] != pointer[i] { throw fail("invalid literal") }
        position += count
    }

    private mutating func parseObject(depth: Int) throws(Failure) -> JSONValue {
        position += 1
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(JSONObject(members: members))
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let key = try parseString()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            position += 1
            skipWhitespace()
            let value = try parseValue(depth: depth + 1)
            members.append((key, value))
            skipWhitespace()
            guard position < bytes.count else { throw fail("unexpected end of input") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(JSONObject(members: members)) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws(Failure) -> JSONValue {
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard position < bytes.count else { throw fail("unexpected end of input") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func parseNumber() throws(Failure) -> Double {
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, isDigit(bytes[position]) else { throw fail("invalid number") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else { throw fail("invalid number") }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else { throw fail("invalid number") }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        let text = String(decoding: bytes[start..<position], as: Unicode.UTF8.self)
        guard let value = Double(text), value.isFinite else { throw Failure(offset: start, reason: "number out of range") }
        return value
    }

    @inline(__always) private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func parseString() throws(Failure) -> String {
        position += 1
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let string = String(decoding: bytes[start..<position], as: Unicode.UTF8.self)
                position += 1
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("control character in string") }
            position += 1
        }
        var out = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return String(decoding: out, as: Unicode.UTF8.self)
            }
            if byte < 0x20 { throw fail("control character in string") }
            if byte != UInt8(ascii: "\\") {
                out.append(byte)
                position += 1
                continue
            }
            position += 1
            guard position < bytes.count else { break }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                          bytes[position + 1] == UInt8(ascii: "u") else { throw fail("lone leading surrogate") }
                    position += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("invalid surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("lone trailing surrogate")
                }
                UTF8Bytes.append(scalar, to: &out)
            default:
                throw fail("invalid escape")
            }
        }
        throw fail("unterminated string")
    }

    private mutating func parseHex4() throws(Failure) -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail("unexpected end of input") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }
}

/// Typed access to a JSON document with errors that name the file and the member.
struct JSONReader {
    let path: String

    func parse(_ bytes: [UInt8]) throws(TokenizerError) -> JSONValue {
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw TokenizerError.invalidJSON(path: path, offset: error.offset, reason: error.reason)
        }
    }

    func invalid(_ reason: String) -> TokenizerError { .invalidModel(path: path, reason: reason) }

    func object(_ value: JSONValue?, _ context: String) throws(TokenizerError) -> JSONObject {
        guard case let .object(object)? = value else { throw invalid("\(context): expected an object, found \(value?.typeName ?? "nothing")") }
        return object
    }

    func array(_ value: JSONValue?, _ context: String) throws(TokenizerError) -> [JSONValue] {
        guard case let .array(array)? = value else { throw invalid("\(context): expected an array, found \(value?.typeName ?? "nothing")") }
        return array
    }

    func string(_ value: JSONValue?, _ context: String) throws(TokenizerError) -> String {
        guard case let .string(string)? = value else { throw invalid("\(context): expected a string, found \(value?.typeName ?? "nothing")") }
        return string
    }

    func optionalString(_ value: JSONValue?, _ context: String) throws(TokenizerError) -> String? {
        if value == nil { return nil }
        if case .null? = value { return nil }
        return try string(value, context)
    }

    func bool(_ value: JSONValue?, _ context: String, default defaultValue: Bool) throws(TokenizerError) -> Bool {
        switch value {
        case nil, .null?: return defaultValue
        case let .bool(flag)?: return flag
        default: throw invalid("\(context): expected a boolean, found \(value!.typeName)")
        }
    }

    func double(_ value: JSONValue?, _ context: String) throws(TokenizerError) -> Double {
        guard case let .number(number)? = value else { throw invalid("\(context): expected a number, found \(value?.typeName ?? "nothing")") }
        return number
    }

    /// A non-negative integer that fits the id range of the reference libraries (u32).
    func integer(_ value: JSONValue?, _ context: String) throws(TokenizerError) -> Int {
        let number = try double(value, context)
        guard number >= 0, number <= Double(UInt32.max), number.rounded() == number else {
            throw invalid("\(context): expected a non-negative integer, found \(number)")
        }
        return Int(number)
    }

    func optionalInteger(_ value: JSONValue?, _ context: String) throws(TokenizerError) -> Int? {
        if value == nil { return nil }
        if case .null? = value { return nil }
        return try integer(value, context)
    }

    /// A single Unicode scalar given as a one-character string (serde's `char`).
    func character(_ value: JSONValue?, _ context: String) throws(TokenizerError) -> UInt32 {
        let text = try string(value, context)
        let scalars = Array(text.unicodeScalars)
        guard scalars.count == 1 else { throw invalid("\(context): expected a single character") }
        return scalars[0].value
    }
}
