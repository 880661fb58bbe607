import AppServiceHTTP
import AppServiceScheduler
import AppServiceSchedulerPostgres
import ArgumentParser
import Foundation
import SegmentLog

/// `asched inspect`: segments, record counts, services and what compaction would reclaim.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Summarize a log: segments, record types, services, reclaimable space.",
        discussion: """
            Reads the whole log once (checking it as `verify` does) without writing anything.
            With --database-url (or ASCHED_DATABASE_URL), reads a PostgreSQL database instead,
            beside the instance holding it, and shows its writer lease.

            Examples:
              asched inspect /var/lib/asched
              ASCHED_DATABASE_URL=postgres://asched:PASSWORD@db:5432/asched asched inspect
            """)

    @OptionGroup var source: RecordSourceOptions

    func run() throws {
        switch try source.source() {
        case .directory(let directory): try inspect(directory)
        case .database(let url): try inspect(url)
        }
    }

    private func inspect(_ url: PostgresDatabaseURL) throws {
        let reader = try PostgresRecordReader(url: url)
        defer { reader.close() }
        let totals = try reader.totals()
        print("database \(url): schema version \(reader.schemaVersion), \(totals.records) records, \(totals.payloadBytes) payload bytes")
        print("writer lease: epoch \(reader.lease.epoch), held by \(reader.lease.holder.isEmpty ? "no one yet" : reader.lease.holder)")
        print("replay floor: position \(reader.replayFloor) (records below it are queued or pending items compaction kept)")
        for (service, lease) in reader.serviceLeases.sorted(by: { $0.key < $1.key }) {
            let floor = reader.serviceFloors[service].map { ", replayed from position \($0)" } ?? ""
            print("service lease \(service): \(lease.isLive ? "held" : "free, last held") by \(lease.holder) "
                  + "(incarnation \(lease.incarnation))\(floor)")
        }
        var fold = StateFold(reader)
        var counts: [String: Int] = [:]
        try reader.records(from: .start) { record in
            counts[DecodedRecord(record).typeName, default: 0] += 1
            try fold.apply(record)
        }
        print("")
        describe(fold: fold, countsByType: counts, records: totals.records)
    }

    private func inspect(_ directory: String) throws {
        let survey = try LogSurvey(directory: directory)
        print("log \(directory): \(survey.report.segments.count) segments, \(survey.records) records, \(survey.fileBytes) bytes")
        print("")
        print("segment               id  positions            records     bytes  payload stored/raw  chain")
        for segment in survey.report.segments {
            let positions = segment.positions.map { "\($0.lowerBound)–\($0.upperBound)" } ?? "(empty)"
            let ratio = segment.storedPayloadBytes == 0 ? 1 : Double(segment.rawPayloadBytes) / Double(segment.storedPayloadBytes)
            let chain = segment.chainVerified.map { $0 ? "ok" : "BROKEN" } ?? "—"
            print(pad(segment.fileName, 20) + " " + pad("\(segment.segmentId)", 3, right: true) + "  " + pad(positions, 19)
                  + pad("\(segment.records)", 9, right: true) + pad("\(segment.fileBytes)", 10, right: true) + " "
                  + pad("\(segment.storedPayloadBytes)/\(segment.rawPayloadBytes) (\(String(format: "%.2f", ratio))x)", 20, right: true)
                  + "  " + chain + (segment.isLast ? "  (last: appended to)" : "  (sealed)"))
        }
        print("")
        describe(fold: survey.fold, countsByType: survey.countsByType, records: survey.records)
        if !survey.problems.isEmpty {
            print("")
            for problem in survey.problems { print(problem) }
        }
    }

    /// Record counts by type, the services' states and backlogs, and what compaction would keep.
    private func describe(fold: StateFold, countsByType: [String: Int], records: Int) {
        print("records by type:")
        for (type, count) in countsByType.sorted(by: { $0.key < $1.key }) {
            print("  \(pad(type, 22)) \(count)")
        }
        print("")
        let statuses = ServiceStatus.all(in: fold.state)
        if statuses.isEmpty { print("no services yet") }
        for status in statuses { print(StateText.describe(status)) }
        print("")
        for (id, service) in fold.state.services.sorted(by: { $0.key < $1.key }) {
            guard let purgedAt = service.purgedAt else { continue }
            print("\(id) purged at \(Timestamp.iso8601(purgedAt)) (asched purge-service): "
                  + "its queued and pending items were dropped, its transaction ids continue")
        }
        for (id, service) in fold.state.services.sorted(by: { $0.key < $1.key }) where !service.queued.isEmpty {
            let oldest = service.queued.oldestEnqueuedAt.flatMap { $0 == .epoch ? nil : $0 }
            print("backlog of \(id): \(service.queued.count) items in \(service.queued.positions.count) records"
                  + (oldest.map { ", oldest enqueued \(Timestamp.iso8601($0)) (\(Timestamp.age(since: $0)) ago)" } ?? ""))
        }
        let checkpoint = SchedulerCheckpoint(of: fold.state)
        print("compaction: \(checkpoint.livePositions.count) of \(records) records still hold queued or pending items; "
              + "it keeps those and \(checkpoint.records.count) checkpoint records, and drops the rest of the history")
    }

    private func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }
}
