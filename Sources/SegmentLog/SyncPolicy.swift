/// When appended records are forced to stable storage with `fdatasync`.
public enum SyncPolicy: Sendable, Equatable {
    /// Every append returns only after an `fdatasync` that covers it has returned. Appends that
    /// arrive while a sync is running share the next one (group commit).
    case always
    /// Appends return once written to the operating system; `fdatasync` runs at most once per
    /// interval. A crash of the machine (not of the process) can lose up to one interval of
    /// acknowledged appends.
    case interval(Duration)
    /// Never sync except on ``SegmentLog/close()``. For tests and benchmarks only: a machine
    /// crash can lose any acknowledged append.
    case never
}
