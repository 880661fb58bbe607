/// Where the scheduler gets the time and how it waits: the system clock in production, a
/// manual clock in tests (`AppServiceSchedulerTesting.ManualClock`).
public protocol SchedulerClock: Sendable {
    /// The current time.
    var now: SchedulerInstant { get }
    /// Returns at or after `deadline`, at once if it has passed; throws `CancellationError`
    /// when the task is cancelled first.
    func sleep(until deadline: SchedulerInstant) async throws
}
