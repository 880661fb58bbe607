import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import Testing

/// A data directory written by each release before a record encoding change opens in this build
/// and replays to the state that release folded it to (Fixtures/schedulerlog-v1, -v2).
@Suite struct UpgradeTests {
    /// One fixture per earlier encoding version.
    static let fixtures = ["schedulerlog-v1", "schedulerlog-v2"]

    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fixtures/\(name)").standardized.path
    }

    /// What that release recorded of each service, with every queued item and pending body.
    static func expectedServices(_ fixture: String) throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.fixture(fixture) + "/expected-state.json"))
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

    static func copyOfFixture(_ name: String) throws -> String {
        let fixture = Self.fixture(name)
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

    @Test(arguments: fixtures) func anOlderLogReplaysToTheStateItsReleaseFoldedItTo(_ fixture: String) async throws {
        let directory = try Self.copyOfFixture(fixture)
        let scheduler = try await Self.open(directory)
        let described = try await Self.describe(scheduler)
        try await scheduler.close()
        #expect(NSDictionary(dictionary: described) == NSDictionary(dictionary: try Self.expectedServices(fixture)))
    }

    /// Compacting an upgraded log keeps its items (for version 1, those only its checkpoint holds).
    @Test(arguments: fixtures) func anOlderLogKeepsItsStateThroughCompactionAndReopening(_ fixture: String) async throws {
        let directory = try Self.copyOfFixture(fixture)
        let scheduler = try await Self.open(directory)
        _ = try await scheduler.compact()
        let compacted = try await Self.describe(scheduler)
        try await scheduler.close()
        let reopened = try await Self.open(directory)
        let described = try await Self.describe(reopened)
        try await reopened.close()
        let expected = NSDictionary(dictionary: try Self.expectedServices(fixture))
        #expect(NSDictionary(dictionary: compacted) == expected)
        #expect(NSDictionary(dictionary: described) == expected)
    }
}
