import AppServiceHTTP
import AppServiceSchedulerPostgres
import Foundation
import Testing

/// `asched serve` with `database_url`: the same scheduler on PostgreSQL behind the same HTTP API,
/// acknowledging what is committed, naming the owner, and reporting the database in `/healthz`.
@Suite(needsPostgres) struct PostgresDaemonTests {
    @Test func servesOnTheDatabaseAndNamesTheOwner() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let daemon = try await PostgresDaemon.start(try PostgresDaemon.configuration(url, instance: "east-1"))
        do {
            let first = try await daemon.enqueue(1)
            #expect(first.status == 200)
            let position = try #require(first.position)
            // Acknowledged means committed: another connection sees the row.
            #expect(try await PostgresTestServer.count("SELECT count(*) FROM asched_records WHERE position = \(position)", on: url) == 1)
            try await eventually("transaction 1 delivered") { daemon.delivered(1) }
            let status = try await daemon.bridgeStatus()
            #expect(status["owner"] as? String == "east-1")
            #expect(try await daemon.answer(.GET, "/healthz").status == 200)
            let holder = try await PostgresTestServer.execute("SELECT holder FROM asched_writer_lease", on: url)
            #expect(try holder.first?.decode(String.self) == "east-1")

            // Another instance takes the lease: this one's writes are refused, and it says so.
            let intruder = try await PostgresRecordStore.open(url: url, holder: "west-1")
            // The daemon asks the database again once its last answer is 250 ms old.
            try await eventually("/healthz reports the lost lease") { try await daemon.answer(.GET, "/healthz").status == 503 }
            let health = try await daemon.answer(.GET, "/healthz")
            let reasons = health.json["reasons"] as? [String] ?? []
            #expect(reasons.contains { $0.contains("this instance (east-1) lost the writer lease") && $0.contains("to west-1") }, "\(reasons)")
            #expect(try await daemon.bridgeStatus()["owner"] as? String == "west-1")
            let refused = try await daemon.enqueue(2)
            #expect(refused.status == 503 && refused.position == nil)
            #expect(try await PostgresTestServer.count("SELECT count(*) FROM asched_records WHERE position > \(position) "
                                                           + "AND type = 0", on: url) == 0, "the refused enqueue wrote nothing")
            try await intruder.close()
        } catch {
            Issue.record("\(error)")
        }
        do {
            try await daemon.stop()
        } catch {
            // Its next renewal (a third of the lease, 20 s: a slow run reaches it) finds the lease
            // gone, and the daemon stops with this error, as asched serve exits with it.
            #expect("\(error)".contains("this instance (east-1) lost the writer lease"), "\(error)")
        }
    }

    /// A table has no segments to trigger compaction: the daemon compacts it on a schedule, so
    /// delivered transactions' records do not pile up.
    @Test func theDaemonCompactsTheTableOnASchedule() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        var configuration = try PostgresDaemon.configuration(url, instance: "east-1")
        configuration.databaseCompactionInterval = .milliseconds(100)
        let daemon = try await PostgresDaemon.start(configuration)
        do {
            for number in 1...5 {
                #expect(try await daemon.enqueue(number).status == 200)
                try await eventually("transaction \(number) delivered") { daemon.delivered(UInt64(number)) }
            }
            // Each delivered transaction wrote 4 records (enqueued, created, sent, completed); a
            // compaction leaves a checkpoint of the one service.
            try await eventually("the delivered history is deleted") {
                try await PostgresTestServer.count("SELECT count(*) FROM asched_records", on: url) <= 2
            }
            #expect(try await PostgresTestServer.count("SELECT position FROM asched_replay_floor", on: url) > 0)
        } catch {
            Issue.record("\(error)")
        }
        try await daemon.stop()
    }

    /// The database stops (a crash of its server) and comes back: `/healthz` says so meanwhile,
    /// an enqueue sent then is not acknowledged until its record is committed, and delivery
    /// goes on with the next transaction id.
    @Test func anOutageIsUnhealthyAndNothingIsAcknowledgedUntilTheDatabaseIsBack() async throws {
        let (url, directory) = try await PostgresTestServer.dedicated()
        defer { PostgresTestServer.stop(directory) }
        let daemon = try await PostgresDaemon.start(try PostgresDaemon.configuration(url, instance: "east-1"))
        do {
            #expect(try await daemon.enqueue(1).status == 200)
            try await eventually("transaction 1 delivered") { daemon.delivered(1) }

            try PostgresTestServer.pause(directory)
            let health = try await daemon.answer(.GET, "/healthz")
            #expect(health.status == 503)
            let reasons = health.json["reasons"] as? [String] ?? []
            #expect(reasons.contains { $0.hasPrefix("database unreachable: cannot reach \(url.description)") }, "\(reasons)")
            #expect(reasons.allSatisfy { !$0.contains(url.password ?? "-") })
            let duringOutage = Task { try await daemon.enqueue(2) }
            try await eventually("the enqueue's append is waiting for the database") {
                let status = try await daemon.bridgeStatus()
                return (status["queued_events"] as? Int ?? 0) + (status["pending_txns"] as? Int ?? 0) > 0
            }

            try PostgresTestServer.resume(directory)
            let acknowledged = try await duringOutage.value
            #expect(acknowledged.status == 200)
            let position = try #require(acknowledged.position)
            #expect(try await PostgresTestServer.count("SELECT count(*) FROM asched_records WHERE position = \(position)", on: url) == 1)
            try await eventually("transaction 2 delivered") { daemon.delivered(2) }
            try await eventually("/healthz is 200 again") { try await daemon.answer(.GET, "/healthz").status == 200 }
            #expect(try await daemon.enqueue(3).status == 200)
            try await eventually("transaction 3 delivered") { daemon.delivered(3) }
            #expect(daemon.transport.attempts.map(\.id) == [1, 2, 3], "each transaction once, in order")
        } catch {
            Issue.record("\(error)")
        }
        try await daemon.stop()
    }
}
