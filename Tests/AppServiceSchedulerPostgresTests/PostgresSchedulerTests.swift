import AppServiceScheduler
import AppServiceSchedulerPostgres
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import Testing

/// The scheduler, unchanged, on PostgreSQL: it delivers, reopens to the state it had,
/// compacts, stays bounded under load, and stops when another store takes the database.
@Suite(needsPostgres) struct PostgresSchedulerTests {
    static let services = [ServiceDescriptor(id: "bridge", receivesEphemeral: true), ServiceDescriptor(id: "irc")]

    /// Waits (60 s at most) until `condition` holds of the scheduler's state.
    static func waitUntil(_ scheduler: AppServiceScheduler, sourceLocation: SourceLocation = #_sourceLocation,
                          _ condition: @Sendable (SchedulerState) -> Bool) async throws {
        do {
            try await eventually("the scheduler's state to get there", sourceLocation: sourceLocation) { condition(await scheduler.snapshot) }
        } catch {
            Issue.record("the state: \(await scheduler.snapshot.services)", sourceLocation: sourceLocation)
            throw error
        }
    }

    static func idle(_ service: String) -> @Sendable (SchedulerState) -> Bool {
        { state in
            guard let current = state.services[service] else { return false }
            return current.pending.isEmpty && current.queued.isEmpty && current.inFlight == nil
        }
    }

    static func isDown(_ service: String) -> @Sendable (SchedulerState) -> Bool {
        { state in state.services[service]?.status == .down && state.services[service]?.retryDue != nil }
    }

    @Test func deliversAndReopensToTheStateItHad() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let clock = ManualClock()
        let transport = ScriptedTransport()
        transport.script([.failed(reason: "503")], for: "irc")
        let scheduler = try await AppServiceScheduler.open(store: try await PostgresRecordStore.open(url: url), services: Self.services,
                                                           transport: transport, clock: clock)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1), event(2)]), for: "bridge")
        _ = try await scheduler.enqueue(EventBatch(events: [event(3)]), for: "irc")
        try await Self.waitUntil(scheduler) { Self.idle("bridge")($0) && Self.isDown("irc")($0) }
        let outcome = try await scheduler.relay(RelayedTransaction(transactionID: "9", eventIDs: ["$9"],
                                                                   items: EventBatch(events: [event(4)])), for: "irc")
        guard case .stored = outcome else { Issue.record("the relayed transaction was not stored: \(outcome)"); return }
        _ = try await scheduler.enqueue(EventBatch(events: [event(5)]), for: "bridge")
        try await Self.waitUntil(scheduler) { $0.services["bridge"]?.lastCompletedTransactionID == 2 && Self.idle("bridge")($0) }
        let live = await scheduler.snapshot
        try await scheduler.close()
        let bridgeBodies = transport.attempts.filter { $0.service == "bridge" }.map { DeliveryCheck.numbers(in: $0.body, field: "events") }
        #expect(bridgeBodies == [[1, 2], [5]])

        // Replaying from PostgreSQL gives the state the live scheduler had.
        let reopened = try await AppServiceScheduler.open(store: try await PostgresRecordStore.open(url: url), services: Self.services,
                                                          transport: transport, clock: clock)
        #expect(await reopened.snapshot == live)
        let irc = try await reopened.queuedAndPendingItems()["irc"] ?? []
        // The queue first (4, relayed), then the pending transaction (3).
        #expect(irc.flatMap { $0.events.compactMap(DeliveryCheck.number(of:)) } == [4, 3])
        // The retry resends transaction 1 with the same bytes.
        let firstAttempt = try #require(transport.attempts.first { $0.service == "irc" })
        try await reopened.forceRetry("irc")
        try await Self.waitUntil(reopened) { $0.services["irc"]?.lastCompletedTransactionID == 2 && Self.idle("irc")($0) }
        let ircAttempts = transport.attempts.filter { $0.service == "irc" }
        #expect(ircAttempts.count == 3 && ircAttempts[1].id == 1 && ircAttempts[1].body == firstAttempt.body)
        #expect(DeliveryCheck.numbers(in: ircAttempts[2].body, field: "events") == [4])
        try await reopened.close()
    }

    @Test func compactionDeletesCompletedTransactionsAndKeepsLiveRecords() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let clock = ManualClock()
        let transport = ScriptedTransport()
        transport.script([.failed(reason: "503")], for: "irc")
        let store = try await PostgresRecordStore.open(url: url)
        let scheduler = try await AppServiceScheduler.open(store: store, services: Self.services, transport: transport, clock: clock)
        _ = try await scheduler.enqueue(EventBatch(events: [event(100)]), for: "irc")
        try await Self.waitUntil(scheduler, Self.isDown("irc"))
        for number in 0..<30 {
            _ = try await scheduler.enqueue(EventBatch(events: [event(number)]), for: "bridge")
            if number % 10 == 9 { _ = try await scheduler.enqueue(EventBatch(events: [event(101 + number / 10)]), for: "irc") }
        }
        try await Self.waitUntil(scheduler, Self.idle("bridge"))
        let rowsBefore = try await PostgresTestServer.count("SELECT count(*) FROM asched_records", on: url)

        let report = try #require(try await scheduler.compact())
        let rowsAfter = try await PostgresTestServer.count("SELECT count(*) FROM asched_records", on: url)
        let dropped = report.recordsBefore - report.recordsAfter
        #expect(dropped > 30, "\(report)")
        // The checkpoint added one record per service; the rest is what the compaction deleted.
        #expect(rowsAfter == rowsBefore + Self.services.count - dropped)
        #expect(try await PostgresTestServer.count("SELECT position FROM asched_replay_floor", on: url) == Int(report.floor.rawValue))
        // irc's pending transaction and queue stay readable where they are.
        let irc = try await scheduler.queuedAndPendingItems()["irc"] ?? []
        #expect(irc.flatMap { $0.events.compactMap(DeliveryCheck.number(of:)) }.sorted() == [100, 101, 102, 103])
        #expect(try await PostgresTestServer.count("SELECT count(*) FROM asched_records WHERE service = 'irc' AND type = 1", on: url) == 4)
        let live = await scheduler.snapshot
        try await scheduler.close()

        let reopened = try await AppServiceScheduler.open(store: try await PostgresRecordStore.open(url: url), services: Self.services,
                                                          transport: transport, clock: clock)
        #expect(await reopened.snapshot == live)
        try await reopened.forceRetry("irc")
        try await Self.waitUntil(reopened, Self.idle("irc"))
        let delivered = transport.attempts.filter { $0.service == "irc" }.dropFirst().flatMap { DeliveryCheck.numbers(in: $0.body, field: "events") }
        #expect(delivered == [100, 101, 102, 103])
        try await reopened.close()
    }

    /// Steady load with a compaction after every round: the table does not grow with the
    /// records that went through it.
    @Test func theTableStaysBoundedUnderSteadyLoad() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let store = try await PostgresRecordStore.open(url: url)
        let scheduler = try await AppServiceScheduler.open(store: store, services: Self.services, transport: ScriptedTransport(),
                                                           clock: ManualClock())
        var rows: [Int] = []
        for round in 0..<30 {
            for number in 0..<10 {
                let service = number % 3 == 0 ? "irc" : "bridge"
                _ = try await scheduler.enqueue(EventBatch(events: [event(round * 10 + number)]), for: service)
            }
            try await Self.waitUntil(scheduler) { Self.idle("bridge")($0) && Self.idle("irc")($0) }
            try await scheduler.compact()
            rows.append(try await PostgresTestServer.count("SELECT count(*) FROM asched_records", on: url))
        }
        let appended = await scheduler.logStatistics.appendedRecords
        try await scheduler.close()
        // All delivered: a compaction leaves the services' checkpoints and nothing else.
        #expect(rows.allSatisfy { $0 == Self.services.count }, "rows after each round: \(rows)")
        #expect(appended > 30 * 10 * 3, "only \(appended) records went through")
    }

    @Test func aSecondStoreOnTheDatabaseStopsTheFirstScheduler() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let transport = ScriptedTransport()
        let first = try await AppServiceScheduler.open(store: try await PostgresRecordStore.open(url: url, holder: "first"),
                                                       services: Self.services, transport: transport, clock: ManualClock())
        _ = try await first.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await Self.waitUntil(first, Self.idle("bridge"))
        let before = await first.snapshot

        let second = try await AppServiceScheduler.open(store: try await PostgresRecordStore.open(url: url, holder: "second"),
                                                        services: Self.services, transport: transport, clock: ManualClock())
        #expect(await second.snapshot == before)
        await #expect(throws: SchedulerError.self) { try await first.enqueue(EventBatch(events: [event(2)]), for: "bridge") }
        let reason = try #require(await first.failureDescription)
        #expect(reason.contains("another store took the writer lease") && reason.contains(url.description), "\(reason)")
        await #expect(throws: SchedulerError.self) { try await first.enqueue(EventBatch(events: [event(3)]), for: "bridge") }

        _ = try await second.enqueue(EventBatch(events: [event(4)]), for: "bridge")
        try await Self.waitUntil(second) { $0.services["bridge"]?.lastCompletedTransactionID == 2 && Self.idle("bridge")($0) }
        let delivered = transport.attempts.map { DeliveryCheck.numbers(in: $0.body, field: "events") }
        #expect(delivered == [[1], [4]])
        _ = try? await first.close()
        try await second.close()
    }
}
