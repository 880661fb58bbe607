import AppServiceScheduler
import Foundation

/// Renders scheduler instants for people and scripts.
enum Timestamp {
    static func iso8601(_ instant: SchedulerInstant) -> String {
        let date = Date(timeIntervalSince1970: Double(instant.millisecondsSinceEpoch) / 1000)
        return date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    /// How long ago `instant` was, e.g. "3h 12m", "41s".
    static func age(since instant: SchedulerInstant) -> String {
        let seconds = max(0, SystemClock().now.millisecondsSinceEpoch - instant.millisecondsSinceEpoch) / 1000
        if seconds >= 3600 { return "\(seconds / 3600)h \(seconds % 3600 / 60)m" }
        if seconds >= 60 { return "\(seconds / 60)m \(seconds % 60)s" }
        return "\(seconds)s"
    }
}
