/// What the runner is doing, for progress displays. Delivered in order from the runner's task.
public enum CompareEvent: Sendable {
    /// Before anything runs: samples to run now, and those already finished by earlier runs.
    case started(pending: Int, alreadyFinished: Int)
    /// Every selected sample of this model was finished before; it is not loaded.
    case modelSkipped(label: String)
    case modelLoading(label: String, pending: Int)
    case modelLoaded(label: String, seconds: Double)
    case modelFailed(label: String, message: String, samples: Int)
    case sampleStarted(label: String, promptID: String, sampleIndex: Int)
    /// Tokens generated so far in the current sample.
    case sampleProgress(label: String, tokens: Int)
    case sampleFinished(SampleRecord)
    case sampleFailed(ErrorRecord)
    case modelClosed(label: String)
}
