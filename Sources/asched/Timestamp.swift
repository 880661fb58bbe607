import AppServiceScheduler
import Foundation

/// Renders scheduler instants for people and scripts.
enum Timestamp {
    static func iso8601(_ instant: SchedulerInstant) -> String {
        let date = Date(timeIntervalSince1970: Double(instant.millisecondsSinceEpoch) / 1000)
        return date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
