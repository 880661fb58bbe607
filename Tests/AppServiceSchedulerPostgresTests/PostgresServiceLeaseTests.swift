import AppServiceScheduler
import AppServiceSchedulerPostgres
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import Testing

/// Several stores writing to one database at once, each the records of the services whose leases
/// it holds (schema version 4): each service's records fold in the order they committed, whoever
/// wrote them; a store that lost a service's lease is refused by the database; the writer lease
/// and services' leases exclude each other.
@Suite(needsPostgres) struct PostgresServiceLeaseTests {
    /// Long enough that a renewal delayed by a loaded machine (the whole suite at once) never
    /// lets a lease run out where a test does not make it.
    static let lease = Duration.seconds(60)

    static func enqueued(_ service: String, _ number: Int) -> LogEntry {
        SchedulerRecord.enqueued(service: service, items: EventBatch(events: [event(number)]), at: .epoch).logEntry
    }

    /// The numbers of the events `store` replays, by service, in replay order, with their positions.
    static func replayed(_ store: PostgresRecordStore) throws -> [String: [(number: Int, position: LogPosition)]] {
        var found: [String: [(number: Int, position: LogPosition)]] = [:]
        try store.replay { record in
            guard case .enqueued(let service, let items, _) = try SchedulerRecord.decode(typeCode: record.type, payload: record.payload) else {
                return
            }
            for number in items.events.compactMap(DeliveryCheck.number(of:)) { found[service, default: []].append((number, record.position)) }
        }
        return found
    }

    @Test func storesHoldingDifferentServicesWriteAtOnceEachReplayingItsOwnInCommitOrder() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let first = try await PostgresRecordStore.open(url: url, holder: "a", services: ["irc", "bridge"], leaseDuration: Self.lease)
        let second = try await PostgresRecordStore.open(url: url, holder: "b", services: ["slack", "irc"], leaseDuration: Self.lease)
        #expect(first.services == ["bridge", "irc"] && second.services == ["slack"], "irc's lease was taken by the first")
        #expect(second.epoch > first.epoch)

        // Three services appended from 8 tasks each, both stores at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (store, services) in [(first, ["irc", "bridge"]), (second, ["slack"])] {
                for service in services {
                    for task in 0..<8 {
                        group.addTask {
                            for round in 0..<25 { try await store.beginAppend(contentsOf: [Self.enqueued(service, round * 8 + task)]).durable() }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let firstReplay = try Self.replayed(first)
        let secondReplay = try Self.replayed(second)
        #expect(Set(firstReplay.keys) == ["irc", "bridge"] && Set(secondReplay.keys) == ["slack"], "each replays its own services")
        for (service, records) in firstReplay.merging(secondReplay, uniquingKeysWith: +) {
            #expect(records.count == 200 && Set(records.map(\.number)).count == 200, "\(service)")
            #expect(zip(records, records.dropFirst()).allSatisfy { $0.position < $1.position }, "\(service)")
        }
        // Each store appends in a block of its own.
        let firstPositions = firstReplay.values.joined().map(\.position)
        let secondPositions = secondReplay.values.joined().map(\.position)
        #expect(firstPositions.max()! < secondPositions.min()!)
        #expect(try await PostgresTestServer.count("SELECT count(DISTINCT position) FROM asched_records", on: url) == 600)

        #expect(throws: PostgresStoreError.serviceNotLeased(database: url.description, service: "slack")) {
            try first.beginAppend(contentsOf: [Self.enqueued("slack", 1000)])
        }
        #expect(throws: PostgresStoreError.serviceNotLeased(database: url.description, service: nil)) {
            try first.beginAppend(contentsOf: [LogEntry(type: 1, payload: [1])])
        }
        try await first.close()
        try await second.close()
    }

    @Test func aServiceGoesOnInOrderAtItsNextStore() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let before = try await PostgresRecordStore.open(url: url, holder: "a", services: ["irc"], leaseDuration: Self.lease)
        for number in 1...50 { try await before.beginAppend(contentsOf: [Self.enqueued("irc", number)]).durable() }
        #expect(try await PostgresRecordStore.open(url: url, holder: "b", services: ["irc"], leaseDuration: Self.lease).services == [], "irc's lease is held")
        // Closing releases the lease: the next store takes it at once, not once it expires.
        try await before.close()
        let after = try await PostgresRecordStore.open(url: url, holder: "b", services: ["irc"], leaseDuration: Self.lease)
        #expect(after.services == ["irc"])
        for number in 51...100 { try await after.beginAppend(contentsOf: [Self.enqueued("irc", number)]).durable() }
        #expect(try Self.replayed(after)["irc"]?.map(\.number) == Array(1...100))
        try await after.close()
    }

    @Test func aStoreThatLostAServicesLeaseIsRefused() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let stale = try await PostgresRecordStore.open(url: url, holder: "a", services: ["irc", "slack"], leaseDuration: Self.lease)
        try await stale.beginAppend(contentsOf: [Self.enqueued("irc", 1), Self.enqueued("slack", 1)]).durable()
        // irc's lease runs out (the holder paused past it), and another store takes it.
        try await PostgresTestServer.execute("UPDATE asched_service_leases SET expires_at = now() - interval '1 s' WHERE service = 'irc'",
                                             on: url)
        let successor = try await PostgresRecordStore.open(url: url, holder: "b", services: ["irc", "slack"], leaseDuration: Self.lease)
        #expect(successor.services == ["irc"], "slack's lease is still the first store's")
        #expect(await stale.probe() == .lost(holder: "b", epoch: successor.epoch))
        #expect(await successor.probe() == .holding)

        let refused = try stale.beginAppend(contentsOf: [Self.enqueued("irc", 2)])
        let lost = PostgresStoreError.serviceLeaseLost(database: url.description, table: "asched_records", incarnation: stale.epoch)
        await #expect(throws: lost) { try await refused.durable() }
        #expect(throws: lost, "a store that lost a lease writes nothing more") {
            try stale.beginAppend(contentsOf: [Self.enqueued("slack", 2)])
        }
        #expect(try await !stale.renewLease(for: .seconds(60)))
        try await successor.beginAppend(contentsOf: [Self.enqueued("irc", 3)]).durable()
        #expect(try Self.replayed(successor)["irc"]?.map(\.number) == [1, 3])
        #expect(try await PostgresTestServer.count("SELECT count(*) FROM asched_records", on: url) == 3)
        try? await stale.close()
        try await successor.close()
    }

    @Test func inspectNamesEachServicesLeaseAndFloor() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let released = try await PostgresRecordStore.open(url: url, holder: "west-2", services: ["slack"], leaseDuration: Self.lease)
        try await released.beginAppend(contentsOf: [Self.enqueued("slack", 1)]).durable()
        try await released.close()
        let store = try await PostgresRecordStore.open(url: url, holder: "east-1", services: ["irc"], leaseDuration: Self.lease)
        try await store.beginAppend(contentsOf: [Self.enqueued("irc", 1)]).durable()
        let blockStart = UInt64(store.epoch) << 32 + 1
        _ = try await store.compact(before: LogPosition(rawValue: blockStart), keeping: [])
        let inspect = try PostgresCommandTests.asched(["inspect", "--database-url", PostgresDaemon.urlWithPassword(url)])
        #expect(inspect.status == 0, "\(inspect.output)")
        #expect(inspect.output.contains("service lease irc: held by east-1 (incarnation \(store.epoch)), replayed from position "
                                        + "\(blockStart)"), "\(inspect.output)")
        #expect(inspect.output.contains("service lease slack: free, last held by west-2 (incarnation \(released.epoch))"), "\(inspect.output)")
        try await store.close()
    }

    @Test func theWriterLeaseAndServicesLeasesExcludeEachOther() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let writer = try await PostgresRecordStore.open(url: url, holder: "writer", leaseDuration: Self.lease)
        await #expect(throws: PostgresStoreError.writerLeaseHeld(database: url.description, holder: "writer")) {
            try await PostgresRecordStore.open(url: url, holder: "a", services: ["irc"], leaseDuration: Self.lease)
        }
        try await writer.close()
        try await PostgresTestServer.execute("UPDATE asched_writer_lease SET expires_at = now() - interval '1 s'", on: url)

        let scoped = try await PostgresRecordStore.open(url: url, holder: "a", services: ["irc"], leaseDuration: Self.lease)
        try await scoped.beginAppend(contentsOf: [Self.enqueued("irc", 1)]).durable()
        #expect(try await PostgresRecordStore.openIfLeaseExpired(url: url, holder: "standby", leaseDuration: Self.lease) == nil,
                "a standby does not take the writer lease while a service's lease is held")
        // Opening with the writer lease takes the whole database over, as it does from another writer.
        let takeover = try await PostgresRecordStore.open(url: url, holder: "takeover")
        let refused = try scoped.beginAppend(contentsOf: [Self.enqueued("irc", 2)])
        await #expect(throws: PostgresStoreError.serviceLeaseLost(database: url.description, table: "asched_records",
                                                                  incarnation: scoped.epoch)) {
            try await refused.durable()
        }
        try await takeover.beginAppend(contentsOf: [Self.enqueued("irc", 3)]).durable()
        #expect(try Self.replayed(takeover)["irc"]?.map(\.number) == [1, 3])
        try? await scoped.close()
        try await takeover.close()
    }

    @Test func aSchedulerPerStoreDeliversItsServicesAndCompactsOnlyTheirRecords() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let clock = ManualClock()
        let transport = ScriptedTransport()
        transport.script([.failed(reason: "503")], for: "irc")
        let ircStore = try await PostgresRecordStore.open(url: url, holder: "a", services: ["irc"], leaseDuration: Self.lease)
        let bridgeStore = try await PostgresRecordStore.open(url: url, holder: "b", services: ["bridge"], leaseDuration: Self.lease)
        let irc = try await AppServiceScheduler.open(store: ircStore, services: [ServiceDescriptor(id: "irc")], transport: transport,
                                                     clock: clock)
        let bridge = try await AppServiceScheduler.open(store: bridgeStore, services: [ServiceDescriptor(id: "bridge")],
                                                        transport: transport, clock: clock)
        _ = try await irc.enqueue(EventBatch(events: [event(1)]), for: "irc")
        try await PostgresSchedulerTests.waitUntil(irc, PostgresSchedulerTests.isDown("irc"))
        for number in 2...11 { _ = try await bridge.enqueue(EventBatch(events: [event(number)]), for: "bridge") }
        try await PostgresSchedulerTests.waitUntil(bridge, PostgresSchedulerTests.idle("bridge"))
        let ircRows = try await PostgresTestServer.count("SELECT count(*) FROM asched_records WHERE service = 'irc'", on: url)
        #expect(ircRows > 0)

        // bridge's compaction deletes its delivered history, and nothing of irc's.
        let report = try #require(try await bridge.compact())
        #expect(report.recordsAfter < report.recordsBefore)
        #expect(try await PostgresTestServer.count("SELECT count(*) FROM asched_records WHERE service = 'irc'", on: url) == ircRows)
        #expect(try await PostgresTestServer.count("SELECT position FROM asched_service_floors WHERE service = 'bridge'", on: url)
                == Int(report.floor.rawValue))
        let bridgeState = await bridge.snapshot
        try await bridge.close()
        let reopened = try await AppServiceScheduler.open(store: try await PostgresRecordStore.open(url: url, holder: "c", services: ["bridge"], leaseDuration: Self.lease),
                                                          services: [ServiceDescriptor(id: "bridge")], transport: transport, clock: clock)
        #expect(await reopened.snapshot == bridgeState, "the replay starts at bridge's own floor")
        try await reopened.close()

        // irc compacts too (its pending transaction's record stays, below irc's floor), then moves to
        // another store: the transaction is sent again with the same id and bytes.
        let ircReport = try #require(try await irc.compact())
        let firstAttempt = try #require(transport.attempts.first { $0.service == "irc" })
        try await irc.close()
        let moved = try await AppServiceScheduler.open(store: try await PostgresRecordStore.open(url: url, holder: "d", services: ["irc"], leaseDuration: Self.lease),
                                                       services: [ServiceDescriptor(id: "irc")], transport: transport, clock: clock)
        try await moved.forceRetry("irc")
        try await PostgresSchedulerTests.waitUntil(moved, PostgresSchedulerTests.idle("irc"))
        let ircAttempts = transport.attempts.filter { $0.service == "irc" }
        #expect(ircAttempts.count == 2 && ircAttempts[1].id == firstAttempt.id && ircAttempts[1].body == firstAttempt.body)
        try await moved.close()

        // The offline reader folds each service from its own floor, as the stores do.
        let reader = try PostgresRecordReader(url: url)
        defer { reader.close() }
        #expect(reader.serviceFloors == ["bridge": report.floor, "irc": ircReport.floor])
        var skipped: [LogPosition] = []
        try reader.records(from: .start) { record in
            if !reader.isReplayed(record) { skipped.append(record.position) }
        }
        // irc's pending record, kept below irc's floor for its items; irc's store drew the lower
        // block, so the record lies below bridge's floor too, which is not irc's.
        #expect(skipped.count == 1 && skipped[0] < ircReport.floor && skipped[0] < report.floor, "\(skipped)")
    }
}
