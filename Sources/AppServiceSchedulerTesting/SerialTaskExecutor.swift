import Foundation

/// A task executor that runs every job on one thread of its own, in the order the jobs were
/// enqueued. A crash simulation runs the scheduler's tasks and its own on it (the scheduler's
/// `SchedulerConfiguration.taskExecutor`, and `withTaskExecutorPreference`), so the
/// interleaving, and with it the whole run, follows from the seed alone.
public final class SerialTaskExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` and `stopped` are guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false

    /// Starts the executor's thread.
    public init() {
        let thread = Thread { [self] in run() }
        thread.name = "SerialTaskExecutor"
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        defer { condition.unlock() }
        jobs.append(job)
        condition.signal()
    }

    /// Ends the thread once no job is left; jobs enqueued later run on the global executor's
    /// terms, never (a finished simulation has nothing left to run).
    public func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while let job = next() {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    private func next() -> UnownedJob? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !stopped { condition.wait() }
        return jobs.isEmpty ? nil : jobs.removeFirst()
    }
}
