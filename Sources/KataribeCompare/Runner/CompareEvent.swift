/// What the runner is doing, for progress displays. Model events come in order from the runner's task.
/// Each sample's events follow `sampleStarted` → `sampleProgress`… → `sampleFinished`/`sampleFailed`
/// (neither for a sample cut short by cancellation), but the samples of a model that are in flight at
/// once interleave, and their events come from several tasks concurrently. All of a model's sample
/// events arrive between its `modelLoaded` and `modelClosed`.
public enum CompareEvent: Sendable {
    /// Before anything runs: samples to run now, and those already finished by earlier runs.
    case started(pending: Int, alreadyFinished: Int)
    /// Every selected sample of this model was finished before; it is not loaded.
    case modelSkipped(label: String)
    case modelLoading(label: String, pending: Int)
    case modelLoaded(label: String, seconds: Double)
    case modelFailed(label: String, message: String, samples: Int)
    case sampleStarted(label: String, promptID: String, sampleIndex: Int)
    /// Tokens generated so far in this sample.
    case sampleProgress(label: String, promptID: String, sampleIndex: Int, tokens: Int)
    case sampleFinished(SampleRecord)
    case sampleFailed(ErrorRecord)
    case modelClosed(label: String)
}
