import AppServiceScheduler
import SegmentLog
import SegmentLogTesting

/// Scheduler logs kept in `Fixtures/schedulerlog/` for the inspection tools' tests: a clean log
/// (irc delivered three transactions; slack is DOWN with one pending transaction and queued
/// events) and copies damaged as a crash or a bad disk would. Written record by record, so
/// they are the same bytes every time; `tools/make-fixtures` regenerates them.
public enum SchedulerLogFixtures {
    /// The fixture directories by name.
    public static let names = ["clean", "torn-tail", "corrupt-middle", "missing-segment"]
    /// Segment size the fixtures are written with.
    public static let segmentSizeBytes = 400

    /// The records of the clean log, in order.
    public static let records: [SchedulerRecord] = {
        var records: [SchedulerRecord] = []
        for id in UInt64(1)...3 {
            records.append(.enqueued(service: "irc", items: EventBatch(events: [event(Int(id))]), at: enqueuedAt))
            records.append(.transactionCreated(service: "irc", id: id, events: 1, ephemeral: 0, toDevice: 0, fields: [.ephemeral]))
            records.append(.sendStarted(service: "irc", id: id, attempt: 1))
            records.append(.sendSucceeded(service: "irc", id: id))
            records.append(.transactionCompleted(service: "irc", id: id))
        }
        records.append(.enqueued(service: "slack", items: EventBatch(events: [event(10), event(11)]), at: enqueuedAt))
        records.append(.transactionCreated(service: "slack", id: 1, events: 2, ephemeral: 0, toDevice: 0, fields: []))
        records.append(.sendStarted(service: "slack", id: 1, attempt: 1))
        records.append(.sendFailed(service: "slack", id: 1, reason: "HTTP 502 from slack"))
        records.append(.serviceDown(service: "slack"))
        records.append(.backoffScheduled(service: "slack", counter: 1, delay: .seconds(2),
                                         due: SchedulerInstant(millisecondsSinceEpoch: 1_700_000_002_000)))
        for number in 12...15 {
            records.append(.enqueued(service: "slack", items: EventBatch(events: [event(number)]), at: enqueuedAt))
        }
        return records
    }()

    /// When the fixtures' items were enqueued.
    public static let enqueuedAt = SchedulerInstant(millisecondsSinceEpoch: 1_700_000_000_000)

    /// A message event numbered `number` in its `content.n`.
    public static func event(_ number: Int) -> [UInt8] {
        Array("{\"type\":\"m.room.message\",\"content\":{\"n\":\(number),\"body\":\"fixture message \(number)\"}}".utf8)
    }

    /// Writes every fixture under `root`.
    public static func write(to root: String, fileSystem: any FileSystem = PosixFileSystem()) async throws {
        for name in names {
            let directory = root + "/" + name
            var configuration = SegmentLog.Configuration()
            configuration.fileSystem = fileSystem
            configuration.segmentSizeBytes = segmentSizeBytes
            configuration.preallocation = .none
            let log = try SegmentLog.open(directory: directory, configuration: configuration)
            for record in records {
                _ = try await log.append(contentsOf: [record.logEntry])
            }
            try await log.close()
            try fileSystem.removeFile(at: directory + "/LOCK")
            try LogFixtures.damage(directory, as: name, fileSystem: fileSystem)
        }
    }
}
