import AppServiceScheduler
import AppServiceSchedulerPostgres
import Foundation
import SegmentLog
import Testing

/// The writer lease with a time limit (schema version 2) and its holder's address (3): renewed by its holder, taken by a
/// standby only once expired, and an expired holder's writes refused by the database.
@Suite(needsPostgres) struct PostgresLeaseTests {
    @Test func aStandbyTakesTheLeaseOnlyOnceItExpiredAndTheOldHoldersWritesAreRefused() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let active = try await PostgresRecordStore.open(url: url, holder: "east-1", leaseDuration: .seconds(60))
        try await active.beginAppend(contentsOf: [LogEntry(type: 1, payload: [1])]).durable()
        #expect(try await PostgresRecordStore.openIfLeaseExpired(url: url, holder: "west-1", leaseDuration: .seconds(60)) == nil)
        #expect(try await active.renewLease(for: .seconds(600)))
        #expect(try await PostgresTestServer.count("SELECT count(*) FROM asched_writer_lease WHERE expires_at > now() + interval '500 s'",
                                                   on: url) == 1)

        // The holder stops renewing (it died, or was paused): its lease runs out.
        try await PostgresTestServer.execute("UPDATE asched_writer_lease SET expires_at = now() - interval '1 s'", on: url)
        let refused = try active.beginAppend(contentsOf: [LogEntry(type: 1, payload: [2])])
        await #expect(throws: PostgresStoreError.fenced(database: url.description, table: "asched_records", epoch: active.epoch)) {
            try await refused.durable()
        }
        #expect(try await !active.renewLease(for: .seconds(60)), "an expired lease is not renewed")

        #expect(try await PostgresRecordStore.currentLease(url: url).isFree, "an expired lease is free")
        let standby = try #require(try await PostgresRecordStore.openIfLeaseExpired(url: url, holder: "west-1", leaseDuration: .seconds(60)))
        #expect(standby.epoch == active.epoch + 1)
        let next = try standby.beginAppend(contentsOf: [LogEntry(type: 1, payload: [3])])
        #expect(next.positions.lowerBound == LogPosition(rawValue: 2), "after what the old holder committed")
        try await next.durable()
        #expect(await standby.probe() == .holding)
        #expect(await active.probe() == .lost(holder: "west-1", epoch: standby.epoch))
        #expect(try await PostgresRecordStore.currentLease(url: url).address == "", "a new holder has advertised nothing yet")
        #expect(try await standby.advertise(address: "http://127.0.0.1:8449"))
        #expect(try await !active.advertise(address: "http://127.0.0.1:8448"), "a fenced store cannot advertise")
        let lease = try await PostgresRecordStore.currentLease(url: url)
        #expect(lease.holder == "west-1" && lease.address == "http://127.0.0.1:8449" && !lease.isFree)
        try? await active.close()
        try await standby.close()
    }

    @Test func aVersion1DatabaseIsMigratedAndItsLeaseNeverExpires() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        try await PostgresRecordStore.open(url: url).close()
        try await PostgresTestServer.execute("ALTER TABLE asched_writer_lease DROP COLUMN expires_at", on: url)
        try await PostgresTestServer.execute("ALTER TABLE asched_writer_lease DROP COLUMN address", on: url)
        try await PostgresTestServer.execute("DROP TABLE asched_service_leases, asched_service_floors, asched_instances", on: url)
        try await PostgresTestServer.execute("DROP SEQUENCE asched_incarnations", on: url)
        try await PostgresTestServer.execute("DROP INDEX asched_records_by_service", on: url)
        try await PostgresTestServer.execute("UPDATE asched_schema SET version = 1", on: url)
        let store = try await PostgresRecordStore.open(url: url, holder: "upgraded")
        #expect(try await PostgresTestServer.count("SELECT version FROM asched_schema", on: url) == PostgresRecordStore.schemaVersion)
        #expect(try await PostgresTestServer.count("SELECT count(*) FROM asched_writer_lease WHERE expires_at = 'infinity'", on: url) == 1)
        #expect(try await PostgresRecordStore.openIfLeaseExpired(url: url, holder: "standby", leaseDuration: .seconds(60)) == nil)
        try await store.beginAppend(contentsOf: [LogEntry(type: 1, payload: [1])]).durable()
        try await store.close()
    }
}
