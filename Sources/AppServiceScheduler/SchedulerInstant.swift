/// A point in wall-clock time, in milliseconds since the Unix epoch.
///
/// Retry due times are stored in the log and must mean the same after a restart, so the
/// scheduler's time is wall-clock time rather than a monotonic clock's.
public struct SchedulerInstant: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var millisecondsSinceEpoch: Int64

    /// The instant `millisecondsSinceEpoch` milliseconds after the epoch.
    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    /// 1970-01-01T00:00:00Z; the enqueue time of items stored before times were recorded.
    public static let epoch = SchedulerInstant(millisecondsSinceEpoch: 0)

    public static func < (lhs: SchedulerInstant, rhs: SchedulerInstant) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    /// The instant `duration` later, to the millisecond.
    public static func + (lhs: SchedulerInstant, rhs: Duration) -> SchedulerInstant {
        SchedulerInstant(millisecondsSinceEpoch: lhs.millisecondsSinceEpoch + rhs.milliseconds)
    }

    /// The time from `self` to `later` (negative when `later` is earlier).
    public func duration(to later: SchedulerInstant) -> Duration {
        .milliseconds(later.millisecondsSinceEpoch - millisecondsSinceEpoch)
    }

    public var description: String { "\(millisecondsSinceEpoch) ms" }
}

extension Duration {
    /// The duration in whole milliseconds, rounded down.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
