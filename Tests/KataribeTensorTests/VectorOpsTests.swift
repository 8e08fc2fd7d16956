import Foundation
import Testing
@testable import KataribeTensor

@Suite("Vector operations")
struct VectorOpsTests {
    @Test("layerNorm normalizes with the biased variance, then scales and shifts")
    func layerNorm() {
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        let w = [Float](repeating: 2, count: 11), b = [Float](repeating: 0.5, count: 11)
        var out = [Float](repeating: 0, count: 11)
        VectorOps.layerNorm(x, weight: w, bias: b, epsilon: 1e-5, count: 11, into: &out)
        let mean = 6.0, variance = 10.0
        for i in 0..<11 {
            let expected = (Double(x[i]) - mean) / (variance + 1e-5).squareRoot() * 2 + 0.5
            #expect(abs(Double(out[i]) - expected) < 1e-5)
        }
    }

    @Test("softmax sums to one and survives huge logits")
    func softmax() {
        var x: [Float] = [1000, 999, -1000, 0]
        VectorOps.softmax(&x, count: 4)
        #expect(abs(x.reduce(0, +) - 1) < 1e-6)
        #expect(abs(x[0] - 1 / (1 + expf(-1))) < 1e-6)
    }

    @Test("logSoftmax matches log(softmax)")
    func logSoftmax() {
        let x: [Float] = [0.5, -1, 3, 2]
        let all = VectorOps.logSoftmax(x)
        let total = x.map { exp(Double($0)) }.reduce(0, +)
        for i in 0..<4 {
            #expect(abs(all[i] - log(exp(Double(x[i])) / total)) < 1e-12)
            #expect(abs(x.withUnsafeBufferPointer { VectorOps.logSoftmax($0, at: i) } - all[i]) < 1e-12)
        }
    }

    @Test("GELU variants and SiLU follow transformers' formulas", arguments: Activation.allCases)
    func gelu(activation: Activation) {
        let inputs: [Float] = [-6, -2, -0.5, 0, 0.3, 1, 2.5, 8]
        var values = inputs
        activation.apply(&values, count: values.count)
        for (x, y) in zip(inputs.map(Double.init), values) {
            let expected: Double = switch activation {
            case .gelu: 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
            case .geluTanh: 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            case .geluFast: 0.5 * x * (1 + tanh(x * 0.7978845608 * (1 + 0.044715 * x * x)))
            case .silu: x / (1 + exp(-x))
            }
            #expect(abs(Double(y) - expected) < 1e-6)
        }
    }

    @Test("config names map to activations; unknown names do not")
    func names() {
        #expect(Activation(configName: "gelu") == .gelu)
        #expect(Activation(configName: "gelu_new") == .geluTanh)
        #expect(Activation(configName: "gelu_pytorch_tanh") == .geluTanh)
        #expect(Activation(configName: "gelu_fast") == .geluFast)
        #expect(Activation(configName: "silu") == .silu)
        #expect(Activation(configName: "swiglu") == nil)
    }
}
