import Glibc

/// The machine's wall clock (`CLOCK_REALTIME`); waits with `Task.sleep`.
public struct SystemClock: SchedulerClock {
    /// The system clock.
    public init() {}

    public var now: SchedulerInstant {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return SchedulerInstant(millisecondsSinceEpoch: Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000)
    }

    public func sleep(until deadline: SchedulerInstant) async throws {
        let remaining = now.duration(to: deadline)
        if remaining > .zero { try await Task.sleep(for: remaining) }
    }
}
