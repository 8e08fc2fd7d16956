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
        let total = TorchReductions.laneSum(count: count) { i in
            let x = values[i]
            let e = x == -.infinity ? 0 : Foundation.exp(x - m)
            exps?[i] = e
            return e
        }
        self.init(max: m, sum: total)
    }

    /// The same statistics visiting only the workspace's finite ids (`exps` filled only there).
    /// Identical to the dense computation: -inf entries add exactly +0 to their lane.
    init?(scores: UnsafeMutableBufferPointer<Float>, workspace: LogitsWorkspace, exps: UnsafeMutablePointer<Float>) {
        guard workspace.candidatesValid else {
            self.init(values: UnsafePointer(scores.baseAddress!), count: scores.count, exps: exps)
            return
        }
        var m = -Float.infinity
        workspace.forEachFinite(scores) { i in if scores[i] > m { m = scores[i] } }
        guard m > -.infinity else { return nil }
        var total: Float = 0
        if scores.count < 8 {
            workspace.forEachFinite(scores) { i in
                let e = Foundation.exp(scores[i] - m)
                exps[i] = e
                total += e
            }
        } else {
            var lanes = SIMD8<Float>(repeating: 0)
            workspace.forEachFinite(scores) { i in
                let e = Foundation.exp(scores[i] - m)
                exps[i] = e
                lanes[i & 7] += e
            }
            let b0 = lanes[0] + lanes[4], b1 = lanes[1] + lanes[5], b2 = lanes[2] + lanes[6], b3 = lanes[3] + lanes[7]
            total = (b0 + b2) + (b1 + b3)
        }
        self.init(max: m, sum: total)
    }

    private init(max: Float, sum: Float) {
        self.max = max
        self.sum = sum
        inverseSum = 1 / sum
        logSum = Foundation.log(sum)
    }

    @inline(__always) func probability(_ x: Float) -> Float { Foundation.exp(x - max) * inverseSum }
    @inline(__always) func logProbability(_ x: Float) -> Float { (x - max) - logSum }
}
