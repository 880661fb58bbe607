import AppServiceScheduler
import AppServiceSchedulerPostgres
import Foundation
import SegmentLog
import Testing

/// The store when its database stops and starts again: appends wait, unacknowledged, and commit
/// once it is back; reads connect again.
@Suite(needsPostgres) struct PostgresOutageTests {
    @Test func appendsWaitForTheDatabaseAndCommitOnceItIsBack() async throws {
        let (url, directory) = try await PostgresTestServer.dedicated()
        defer { PostgresTestServer.stop(directory) }
        let store = try await PostgresRecordStore.open(url: url)
        let entry = SchedulerRecord.serviceDown(service: "bridge").logEntry
        try await store.beginAppend(contentsOf: [entry]).durable()
        try PostgresTestServer.pause(directory)
        let waiting = try store.beginAppend(contentsOf: [entry, entry])
        let committed = Task { try await waiting.durable() }
        // Nothing to await: the point is that the commit has not happened while the server is down.
        try await Task.sleep(for: .milliseconds(300))
        #expect(store.statistics.appendedRecords == 1, "not committed while the server is down")
        try PostgresTestServer.resume(directory)
        try await committed.value
        #expect(try await PostgresTestServer.count("SELECT count(*) FROM asched_records", on: url) == 3)
        #expect(try store.records(at: [LogPosition(rawValue: 2)]).count == 1)
        try await store.close()
    }
}
