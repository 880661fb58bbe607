import SegmentLog
import Synchronization

/// A ``LogExecutor`` without threads or real time, so that a seeded simulation replays bit for
/// bit: every job (the group commit's, the next segment's preparation, a compaction) runs on the
/// thread that submits it, after the jobs submitted before it, in one global FIFO order; pauses
/// and the clock are virtual. Drive the log from one task at a time.
///
/// ```swift
/// var configuration = SegmentLog.Configuration()
/// configuration.fileSystem = SimulatedFileSystem()
/// configuration.executor = SimulatedLogExecutor()
/// ```
public final class SimulatedLogExecutor: LogExecutor {
    private struct Job {
        /// The queue the job belongs to; nil for detached work.
        let queue: Int?
        let work: @Sendable () -> Void
    }

    private struct State {
        var pending: [Job] = []
        /// Whether some thread is running jobs now; a job submitted meanwhile waits its turn.
        var running = false
        var queues = 0
        var clock: Duration = .zero
        var jobsRun = 0
    }

    /// More jobs than this waiting at once means work keeps queueing more work: a bug.
    public static let pendingJobsMax = 10_000

    private let state = Mutex(State())

    /// An executor whose clock reads zero.
    public init() {}

    /// How many jobs have run, for a simulation's trace.
    public var jobsRun: Int { state.withLock { $0.jobsRun } }

    /// Moves the virtual clock on (the `interval` policy reads it).
    public func advance(by duration: Duration) {
        precondition(duration >= .zero)
        state.withLock { $0.clock += duration }
    }

    /// A queue whose jobs join the executor's one FIFO order.
    public func makeSerialQueue(label: String) -> any LogWorkQueue {
        let id = state.withLock { state in
            defer { state.queues += 1 }
            return state.queues
        }
        return Queue(executor: self, id: id)
    }

    /// Runs `work` in its turn, like any job.
    public func detach(name: String, _ work: @escaping @Sendable () -> Void) {
        submit(Job(queue: nil, work: work))
    }

    /// Moves the virtual clock on; nobody waits.
    public func pause(for duration: Duration) {
        advance(by: duration)
    }

    /// The virtual clock.
    public func now() -> Duration {
        state.withLock { $0.clock }
    }

    /// Queues `job`, then runs every queued job here unless a thread is already running them.
    private func submit(_ job: Job) {
        let runHere = state.withLock { state in
            state.pending.append(job)
            precondition(state.pending.count <= Self.pendingJobsMax, "simulated jobs keep queueing jobs")
            defer { state.running = true }
            return !state.running
        }
        guard runHere else { return }
        while let next = take(where: { _ in true }, finishing: true) { next.work() }
    }

    /// Removes and returns the first queued job that matches; with `finishing`, marks the
    /// executor idle when none is left.
    private func take(where matches: (Job) -> Bool, finishing: Bool) -> Job? {
        state.withLock { state in
            guard let index = state.pending.firstIndex(where: matches) else {
                if finishing { state.running = false }
                return nil
            }
            state.jobsRun += 1
            return state.pending.remove(at: index)
        }
    }

    /// Runs the jobs queued on queue `id` now, in order, on the caller's thread.
    fileprivate func runQueued(on id: Int) {
        while let job = take(where: { $0.queue == id }, finishing: false) { job.work() }
    }

    fileprivate func enqueue(_ work: @escaping @Sendable () -> Void, on id: Int) {
        submit(Job(queue: id, work: work))
    }

    private struct Queue: LogWorkQueue {
        let executor: SimulatedLogExecutor
        let id: Int

        func async(_ work: @escaping @Sendable () -> Void) {
            executor.enqueue(work, on: id)
        }

        /// In its turn, like any job: virtual time has no gaps to wait for.
        func async(after delay: Duration, _ work: @escaping @Sendable () -> Void) {
            precondition(delay >= .zero)
            executor.enqueue(work, on: id)
        }

        func waitUntilIdle() {
            executor.runQueued(on: id)
        }
    }
}
