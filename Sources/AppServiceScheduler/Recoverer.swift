/// The recoverer's timers: at most one armed retry per DOWN service.
///
/// A timer that fires after it was replaced or cancelled must do nothing, so each arming gets
/// a generation and ``claim(_:generation:)`` accepts only the current one.
struct Recoverer {
    private var timers: [String: (generation: UInt64, task: Task<Void, Never>)] = [:]
    private var generations: UInt64 = 0

    /// Arms `service`'s retry for `due`, replacing any earlier timer; `fire` receives the
    /// generation to claim when the time comes.
    mutating func arm(_ service: String, due: SchedulerInstant, clock: any SchedulerClock, executor: (any TaskExecutor)?,
                      fire: @escaping @Sendable (UInt64) async -> Void) {
        cancel(service)
        generations += 1
        let generation = generations
        let task = Task(executorPreference: executor) {
            do {
                try await clock.sleep(until: due)
            } catch {
                return
            }
            await fire(generation)
        }
        timers[service] = (generation, task)
    }

    /// Disarms `service`'s timer, if any.
    mutating func cancel(_ service: String) {
        timers.removeValue(forKey: service)?.task.cancel()
    }

    /// Disarms every timer (the scheduler stopped).
    mutating func cancelAll() {
        for timer in timers.values { timer.task.cancel() }
        timers = [:]
    }

    /// Whether the timer that fired with `generation` is still `service`'s current one; if so it
    /// is disarmed, and the caller retries.
    mutating func claim(_ service: String, generation: UInt64) -> Bool {
        guard timers[service]?.generation == generation else { return false }
        timers[service] = nil
        return true
    }
}
