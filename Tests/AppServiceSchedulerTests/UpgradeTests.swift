import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import Testing

/// A data directory written by the release before record encoding version 2 opens in this
/// build and replays to the state that release folded it to (Fixtures/schedulerlog-v1).
@Suite struct UpgradeTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures/schedulerlog-v1").standardized.path

    /// What that release recorded of each service, with every queued item and pending body.
    static func expectedServices() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture + "/expected-state.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(object["services"] as? [String: [String: Any]])
    }

    /// The same description of `scheduler`'s state, items read back from the log.
    static func describe(_ scheduler: AppServiceScheduler) async throws -> [String: [String: Any]] {
        func strings(_ items: some Sequence<[UInt8]>) -> [String] { items.map { String(decoding: $0, as: UTF8.self) } }
        var services: [String: [String: Any]] = [:]
        for (id, service) in await scheduler.snapshot.services {
            let queued = try await scheduler.items(service.queued)
            var pending: [[String: Any]] = []
            for transaction in service.pending {
                let body = transaction.body(with: try await scheduler.items(transaction.items))
                pending.append(["id": transaction.id, "attempts": transaction.attempts, "fields": Int(transaction.fields.rawValue),
                                "body": String(decoding: body, as: UTF8.self)])
            }
            services[id] = [
                "status": service.status.rawValue,
                "queued_events": strings(queued.events), "queued_ephemeral": strings(queued.ephemeral),
                "queued_to_device": strings(queued.toDevice), "pending": pending,
                "in_flight": service.inFlight.map { Int($0) } as Any? ?? NSNull(),
                "next_transaction_id": service.nextTransactionID,
                "last_completed_transaction_id": service.lastCompletedTransactionID.map { Int($0) } as Any? ?? NSNull(),
                "backoff_counter": service.backoffCounter,
                "retry_due_ms": service.retryDue.map { Int($0.millisecondsSinceEpoch) } as Any? ?? NSNull(),
            ]
        }
        return services
    }

    static func copyOfFixture() throws -> String {
        let directory = FileManager.default.temporaryDirectory.path + "/upgrade-tests/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture + "/log") {
            try FileManager.default.copyItem(atPath: fixture + "/log/" + name, toPath: directory + "/" + name)
        }
        return directory
    }

    static func open(_ directory: String) async throws -> AppServiceScheduler {
        var configuration = SchedulerConfiguration()
        configuration.log.preallocation = .none
        configuration.compactAfterSealedSegments = nil
        return try await AppServiceScheduler.open(directory: directory, services: [], transport: ScriptedTransport(),
                                                  clock: ManualClock(), configuration: configuration)
    }

    @Test func aVersion1LogReplaysToTheStateItsReleaseFoldedItTo() async throws {
        let directory = try Self.copyOfFixture()
        let scheduler = try await Self.open(directory)
        let described = try await Self.describe(scheduler)
        try await scheduler.close()
        #expect(NSDictionary(dictionary: described) == NSDictionary(dictionary: try Self.expectedServices()))
    }

    /// Compacting an upgraded log keeps the items that only a version 1 checkpoint holds.
    @Test func aVersion1LogKeepsItsStateThroughCompactionAndReopening() async throws {
        let directory = try Self.copyOfFixture()
        let scheduler = try await Self.open(directory)
        _ = try await scheduler.compact()
        let compacted = try await Self.describe(scheduler)
        try await scheduler.close()
        let reopened = try await Self.open(directory)
        let described = try await Self.describe(reopened)
        try await reopened.close()
        let expected = NSDictionary(dictionary: try Self.expectedServices())
        #expect(NSDictionary(dictionary: compacted) == expected)
        #expect(NSDictionary(dictionary: described) == expected)
    }
}
