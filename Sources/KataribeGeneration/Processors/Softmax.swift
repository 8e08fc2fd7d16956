import Foundation

/// The pieces of a float32 softmax over one score row, computed like torch's CPU kernels:
/// p = exp(x − max) · (1 / Σ exp(x − max)) and log p = (x − max) − log Σ exp(x − max).
/// The normaliser is summed in torch's lane order over the row as given (`TorchReductions.laneSum`);
/// exp is the C library's, not torch's SLEEF/polynomial exp, so a probability can differ from
/// torch's by an ulp or two (see `TopPWarper` for where that could show).
struct SoftmaxStats {
    let max: Float
    let sum: Float
    let inverseSum: Float
    let logSum: Float

    /// Over the first `count` values; -inf entries contribute exactly 0. nil when none is finite.
    /// With `exps`, stores exp(x − max) for every entry there (0 for -inf) so callers need no
    /// second exp per token.
    init?(values: UnsafePointer<Float>, count: Int, exps: UnsafeMutablePointer<Float>? = nil) {
        var m = -Float.infinity
        for i in 0..<count where values[i] > m { m = values[i] }
        guard m > -.infinity else { return nil }
        max = m
        sum = TorchReductions.laneSum(count: count) { i in
            let x = values[i]
            let e = x == -.infinity ? 0 : Foundation.exp(x - m)
            exps?[i] = e
            return e
        }
        inverseSum = 1 / sum
        logSum = Foundation.log(sum)
    }

    @inline(__always) func probability(_ x: Float) -> Float { Foundation.exp(x - max) * inverseSum }
    @inline(__always) func logProbability(_ x: Float) -> Float { (x - max) - logSum }
}
