import AppServiceHTTP
import AppServiceScheduler
import ArgumentParser
import Foundation
import SegmentLog

/// `asched state`: the scheduler state a replay reaches, at the end or at a position.
struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Show the state the scheduler would have after replaying the log.",
        discussion: """
            Point-in-time debugging: --at replays only the records up to that position (on
            PostgreSQL, the positions are the rows of asched_records).

            Examples:
              asched state /var/lib/asched
              asched state /var/lib/asched --at 1234 --json
              ASCHED_DATABASE_URL=postgres://asched:PASSWORD@db:5432/asched asched state
            """)

    @OptionGroup var source: RecordSourceOptions
    @Option(help: "Replay only the records up to this position.") var at: UInt64?
    @Flag(help: "Print JSON: {\"position\": N, \"services\": [...]}.") var json = false

    func run() throws {
        let fold = try StateFold.replay(try source.source(), through: at.map { LogPosition(rawValue: $0) })
        if let at, fold.lastPosition.rawValue < at, fold.lastPosition != .start {
            FileHandle.standardError.write(Data("note: the log ends at position \(fold.lastPosition), before \(at)\n".utf8))
        }
        let statuses = ServiceStatus.all(in: fold.state)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let services = try JSONSerialization.jsonObject(with: try encoder.encode(statuses))
            print(JSONText.line(["position": fold.lastPosition.rawValue, "records": fold.records, "services": services]))
            return
        }
        print("state after position \(fold.lastPosition) (\(fold.records) records)")
        if statuses.isEmpty { print("no services yet") }
        for status in statuses { print(StateText.describe(status)) }
    }
}

/// The text form of a service's status, shared by `state` and `inspect`.
enum StateText {
    static func describe(_ status: ServiceStatus) -> String {
        var lines = ["service \(status.id): \(status.state.uppercased())"]
        lines.append("  queued: \(status.queuedEvents) events, \(status.queuedEphemeral) ephemeral, \(status.queuedToDevice) to-device")
        let ids = status.pendingTxnIds.isEmpty ? "" : " (ids \(status.pendingTxnIds.first!)…\(status.pendingTxnIds.last!))"
        lines.append("  pending transactions: \(status.pendingTxns)\(ids)" + (status.inFlightTxn.map { ", in flight: \($0)" } ?? ""))
        lines.append("  last completed: \(status.lastCompletedTxn.map(String.init) ?? "none"); next id: \(status.nextTxnId)")
        if let due = status.nextRetryAt {
            lines.append("  next retry: \(Timestamp.iso8601(SchedulerInstant(millisecondsSinceEpoch: due))) (retry \(status.backoffCounter))")
        }
        return lines.joined(separator: "\n")
    }
}
