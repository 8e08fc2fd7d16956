/// General categories and whitespace sets by scalar value. The Basic Multilingual Plane is served
/// from a table built once from the standard library's Unicode data, so the pre-tokenizer scanners
/// classify a scalar with one array load.
enum UnicodeProperties {
    /// Compact general category codes; the order groups the major classes so that range checks work.
    enum Category: UInt8 {
        case lu, ll, lt, lm, lo  // letters 0...4
        case mn, mc, me  // marks 5...7
        case nd, nl, no  // numbers 8...10
        case pc, pd, ps, pe, pi, pf, po  // punctuation 11...17
        case sm, sc, sk, so  // symbols 18...21
        case zs, zl, zp  // separators 22...24
        case cc, cf, cs, co, cn  // other 25...29
    }

    private static let bmpTable: [UInt8] = {
        var table = [UInt8](repeating: Category.cn.rawValue, count: 0x10000)
        for value in 0..<0x10000 {
            guard let scalar = Unicode.Scalar(UInt32(value)) else {
                table[value] = Category.cs.rawValue
                continue
            }
            table[value] = convert(scalar.properties.generalCategory).rawValue
        }
        return table
    }()

    @inline(__always)
    static func category(_ scalar: UInt32) -> Category {
        if scalar < 0x10000 {
            return bmpTable.withUnsafeBufferPointer { Category(rawValue: $0[Int(scalar)])! }
        }
        guard let value = Unicode.Scalar(scalar) else { return .cn }
        return convert(value.properties.generalCategory)
    }

    @inline(__always) static func isLetter(_ scalar: UInt32) -> Bool { category(scalar).rawValue <= 4 }
    @inline(__always) static func isMark(_ scalar: UInt32) -> Bool { (5...7).contains(category(scalar).rawValue) }
    @inline(__always) static func isNumber(_ scalar: UInt32) -> Bool { (8...10).contains(category(scalar).rawValue) }
    @inline(__always) static func isDecimalDigit(_ scalar: UInt32) -> Bool { category(scalar) == .nd }
    @inline(__always) static func isPunctuation(_ scalar: UInt32) -> Bool { (11...17).contains(category(scalar).rawValue) }

    /// The Unicode White_Space property: Oniguruma's and Rust's `\s`, Rust's `char::is_whitespace`.
    @inline(__always)
    static func isWhitespace(_ scalar: UInt32) -> Bool {
        switch scalar {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Python's `str.isspace` (bidirectional class WS/B/S or category Zs), used by `str.strip()`.
    static func isPythonSpace(_ scalar: UInt32) -> Bool {
        isWhitespace(scalar) || (0x1C...0x1F).contains(scalar)
    }

    /// Oniguruma's Unicode `\w`: letters, marks, numbers and connector punctuation.
    static func isOnigurumaWord(_ scalar: UInt32) -> Bool {
        let raw = category(scalar).rawValue
        return raw <= 11
    }

    /// Rust regex's Unicode `\w`: Alphabetic, marks, decimal numbers, connector punctuation, Join_Control.
    static func isRustWord(_ scalar: UInt32) -> Bool {
        guard let value = Unicode.Scalar(scalar) else { return false }
        let raw = category(scalar).rawValue
        return value.properties.isAlphabetic || (5...8).contains(raw) || raw == 11 || scalar == 0x200C || scalar == 0x200D
    }

    static func convert(_ category: Unicode.GeneralCategory) -> Category {
        switch category {
        case .uppercaseLetter: return .lu
        case .lowercaseLetter: return .ll
        case .titlecaseLetter: return .lt
        case .modifierLetter: return .lm
        case .otherLetter: return .lo
        case .nonspacingMark: return .mn
        case .spacingMark: return .mc
        case .enclosingMark: return .me
        case .decimalNumber: return .nd
        case .letterNumber: return .nl
        case .otherNumber: return .no
        case .connectorPunctuation: return .pc
        case .dashPunctuation: return .pd
        case .openPunctuation: return .ps
        case .closePunctuation: return .pe
        case .initialPunctuation: return .pi
        case .finalPunctuation: return .pf
        case .otherPunctuation: return .po
        case .mathSymbol: return .sm
        case .currencySymbol: return .sc
        case .modifierSymbol: return .sk
        case .otherSymbol: return .so
        case .spaceSeparator: return .zs
        case .lineSeparator: return .zl
        case .paragraphSeparator: return .zp
        case .control: return .cc
        case .format: return .cf
        case .surrogate: return .cs
        case .privateUse: return .co
        case .unassigned: return .cn
        @unknown default: return .cn
        }
    }
}
