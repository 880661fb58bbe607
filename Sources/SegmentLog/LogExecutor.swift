import Dispatch
import Foundation
import Glibc

/// Where a ``SegmentLog`` runs its background work: the group commit's serial queue, the
/// preparation of the next segment, compaction's thread and its pacing pauses, and the clock of
/// the `interval` sync policy.
///
/// ``ThreadedLogExecutor`` (the default) uses dispatch queues, a thread and the real clock. A
/// simulation passes `SegmentLogTesting.SimulatedLogExecutor` instead, which runs the same work
/// in a deterministic order on the caller's thread, so that a seed replays a run bit for bit.
///
/// ```swift
/// var configuration = SegmentLog.Configuration()
/// configuration.executor = ThreadedLogExecutor()   // the default
/// ```
public protocol LogExecutor: Sendable {
    /// A new queue whose jobs run one at a time, in the order they were submitted.
    func makeSerialQueue(label: String) -> any LogWorkQueue
    /// Runs `work` once, away from the caller (compaction), at a lower priority than appends.
    func detach(name: String, _ work: @escaping @Sendable () -> Void)
    /// Blocks background work (compaction's pacing between flushes) for `duration`.
    func pause(for duration: Duration)
    /// The time since a fixed origin, for deciding when the `interval` policy syncs.
    func now() -> Duration
}

/// A serial queue of a ``LogExecutor``.
public protocol LogWorkQueue: Sendable {
    /// Submits `work`; it runs after every job submitted before it.
    func async(_ work: @escaping @Sendable () -> Void)
    /// Submits `work` to run no earlier than `delay` from now, in order with the queue's jobs.
    func async(after delay: Duration, _ work: @escaping @Sendable () -> Void)
    /// Returns once every job submitted so far has run. Never call it from the queue's own jobs.
    func waitUntilIdle()
}

/// The real executor: a dispatch queue per serial queue, a thread of its own (at a raised nice
/// value) per detached job, `Thread.sleep` and the continuous clock.
public struct ThreadedLogExecutor: LogExecutor {
    private let origin = ContinuousClock.now

    /// The real executor.
    public init() {}

    /// A serial dispatch queue.
    public func makeSerialQueue(label: String) -> any LogWorkQueue {
        DispatchWorkQueue(queue: DispatchQueue(label: label))
    }

    /// A thread of its own, not a pool thread: the lowered priority must end with it.
    public func detach(name: String, _ work: @escaping @Sendable () -> Void) {
        let thread = Thread {
            // Background work: a higher nice value keeps it from taking CPU from appenders,
            // whose latency is what users feel. On Linux, who = 0 means this thread only.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            work()
        }
        thread.name = name
        thread.start()
    }

    /// `Thread.sleep`.
    public func pause(for duration: Duration) {
        precondition(duration >= .zero)
        Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    /// The continuous clock since this executor was made.
    public func now() -> Duration {
        origin.duration(to: .now)
    }
}

private struct DispatchWorkQueue: LogWorkQueue {
    let queue: DispatchQueue

    func async(_ work: @escaping @Sendable () -> Void) {
        queue.async(execute: work)
    }

    func async(after delay: Duration, _ work: @escaping @Sendable () -> Void) {
        precondition(delay >= .zero)
        // Rounded up, so the job never runs before the delay is over.
        let nanoseconds = Int(delay.components.seconds) * 1_000_000_000 + Int(delay.components.attoseconds / 1_000_000_000) + 1
        queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds), execute: work)
    }

    func waitUntilIdle() {
        queue.sync {}
    }
}
