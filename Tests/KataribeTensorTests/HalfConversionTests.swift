import Testing
@testable import KataribeTensor

@Suite("Half and bfloat16 widening")
struct HalfConversionTests {
    @Test("every one of the 65536 half bit patterns widens exactly like Float16 does")
    func everyHalfPattern() {
        var bits = [UInt16](repeating: 0, count: 65_536)
        for i in 0..<65_536 { bits[i] = UInt16(i) }
        var out = [Float](repeating: 0, count: 65_536)
        bits.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                HalfConversion.halfToFloat(b.baseAddress!, o.baseAddress!, count: 65_536)
            }
        }
        var mismatches = 0
        for i in 0..<65_536 {
            let expected = Float(Float16(bitPattern: UInt16(i)))
            let same = expected.isNaN ? out[i].isNaN : expected.bitPattern == out[i].bitPattern
            if !same { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test("bfloat16 is the high half of a float32")
    func bfloat16() {
        for value: Float in [0, -0.0, 1, -2.5, 3.140625, .infinity, 1e-38, 65504] {
            let bits = UInt16(value.bitPattern >> 16)
            #expect(HalfConversion.bfloat16ToFloat(bits).bitPattern == value.bitPattern & 0xFFFF_0000)
        }
    }
}
