/// transformers' `TemperatureLogitsWarper`: scores divided by the temperature (in f32, by the
/// temperature rounded to f32, as torch does for a Python float).
public struct TemperatureWarper: LogitsProcessor {
    public let temperature: Float
    public var transformersName: String { "TemperatureLogitsWarper" }

    public init(temperature: Double) { self.temperature = Float(temperature) }

    public func process(_ scores: UnsafeMutableBufferPointer<Float>, history: TokenHistory, workspace: LogitsWorkspace) {
        let t = temperature
        for i in scores.indices { scores[i] = scores[i] / t }
    }
}
