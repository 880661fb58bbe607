import AppServiceScheduler
import Foundation
import SegmentLog
import Testing

@Suite struct SchedulerRecordTests {
    /// docs/FORMAT.md §9 is the byte-level truth; its table of type codes must be the code's.
    @Test func formatDocumentListsEveryRecordTypeWithItsCode() throws {
        let format = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/FORMAT.md").standardized
        let text = try String(contentsOf: format, encoding: .utf8)
        let section = try #require(text.range(of: "## 9. Scheduler records")).upperBound
        var documented: [UInt8: String] = [:]
        for line in text[section...].split(separator: "\n") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2, let code = UInt8(cells[0]), cells[1].hasPrefix("`") else { continue }
            documented[code] = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
        }
        let coded = Dictionary(uniqueKeysWithValues: RecordType.allCases.map { ($0.rawValue, "\($0)") })
        #expect(documented == coded)
    }

    @Test func everyRecordTypeHasItsOwnName() {
        #expect(Set(RecordType.allCases.map(\.name)).count == RecordType.allCases.count)
    }

    @Test func everyRecordRoundTripsThroughItsEncoding() throws {
        for record in Self.oneOfEachType() {
            let entry = record.logEntry
            #expect(entry.type == record.type.rawValue)
            #expect(try SchedulerRecord.decode(typeCode: entry.type, payload: entry.payload) == record)
        }
        #expect(Set(Self.oneOfEachType().map(\.type)) == Set(RecordType.allCases))
    }

    /// A checkpoint stores a service's whole state: a field the encoding forgot would come back
    /// as its default, so the sample sets every field to something else and the test checks that.
    @Test func checkpointRoundTripsEveryFieldOfTheServiceState() throws {
        let sample = try Self.serviceStateWithEveryFieldSet()
        let defaults = Dictionary(uniqueKeysWithValues: Mirror(reflecting: ServiceState()).children.map {
            ($0.label!, String(describing: $0.value))
        })
        for field in Mirror(reflecting: sample).children {
            #expect(String(describing: field.value) != defaults[field.label!],
                     "the sample leaves \(field.label!) at its default; set it so the round trip checks it")
        }
        let record = SchedulerRecord.checkpoint(service: "bridge", state: sample)
        let decoded = try SchedulerRecord.decode(typeCode: record.type.rawValue, payload: record.encoded())
        #expect(decoded == record)
    }

    static func serviceStateWithEveryFieldSet() throws -> ServiceState {
        var state = SchedulerState()
        let records: [SchedulerRecord] = [
            .servicePurged(service: "bridge", at: SchedulerInstant(millisecondsSinceEpoch: 1_600_000_000_000)),
            .enqueued(service: "bridge", items: EventBatch(events: [event(1), event(2), event(3)],
                                                           ephemeral: [event(4), event(5)], toDevice: [event(6), event(7)]),
                      at: SchedulerInstant(millisecondsSinceEpoch: 1_700_000_000_000)),
            .transactionCreated(service: "bridge", id: 1, events: 1, ephemeral: 1, toDevice: 1, fields: [.ephemeral, .toDevice]),
            .sendStarted(service: "bridge", id: 1, attempt: 1),
            .sendSucceeded(service: "bridge", id: 1),
            .transactionCompleted(service: "bridge", id: 1),
            .transactionCreated(service: "bridge", id: 2, events: 1, ephemeral: 0, toDevice: 0, fields: [.ephemeral]),
            .sendStarted(service: "bridge", id: 2, attempt: 1),
            .sendFailed(service: "bridge", id: 2, reason: "HTTP 502"),
            .serviceDown(service: "bridge"),
            .backoffScheduled(service: "bridge", counter: 1, delay: .seconds(2),
                              due: SchedulerInstant(millisecondsSinceEpoch: 1_700_000_002_000)),
            .sendStarted(service: "bridge", id: 2, attempt: 2),
            .relayed(service: "bridge", transaction: "42", eventIDs: EventIDDigest(eventIDs: ["$a", "$b"]),
                     items: EventBatch(events: [event(8)], deviceData: [event(9)]),
                     at: SchedulerInstant(millisecondsSinceEpoch: 1_700_000_003_000)),
        ]
        for (offset, record) in records.enumerated() {
            try state.apply(record, at: LogPosition(rawValue: UInt64(offset) + 1))
        }
        return try #require(state.services["bridge"])
    }

    static func oneOfEachType() -> [SchedulerRecord] {
        let due = SchedulerInstant(millisecondsSinceEpoch: 1_700_000_000_000)
        return [
            .enqueued(service: "s", items: EventBatch(events: [event(1)], ephemeral: [event(2)], toDevice: [event(3)]), at: due),
            .transactionCreated(service: "s", id: 7, events: 1, ephemeral: 2, toDevice: 3, fields: [.toDevice]),
            .sendStarted(service: "s", id: 7, attempt: 2),
            .sendSucceeded(service: "s", id: 7),
            .sendFailed(service: "s", id: 7, reason: "timed out"),
            .transactionCompleted(service: "s", id: 7),
            .serviceDown(service: "s"),
            .serviceUp(service: "s"),
            .backoffScheduled(service: "s", counter: 3, delay: .seconds(8), due: due),
            .forcedRetry(service: "s"),
            .checkpoint(service: "s", state: try! serviceStateWithEveryFieldSet()),
            .queueContinued(service: "s", runs: try! serviceStateWithEveryFieldSet().queued),
            .relayed(service: "s", transaction: "m1700000000.1", eventIDs: EventIDDigest(eventIDs: ["$x"]),
                     items: EventBatch(events: [event(1)], ephemeral: [event(2)], toDevice: [event(3)], deviceData: [event(4)]), at: due),
            .transactionCreated(service: "s", id: 8, events: 1, ephemeral: 0, toDevice: 0, deviceData: 1,
                                fields: [.unstableEphemeral, .deviceData]),
            .servicePurged(service: "s", at: due),
        ]
    }
}
