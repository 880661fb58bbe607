import AppServiceHTTP
import AppServiceScheduler
import AppServiceSchedulerPostgres
import Foundation
import SegmentLog
import Testing

/// The store alone, on a real PostgreSQL: records round-trip, the schema is versioned, and one
/// store writes to a database at a time.
@Suite(needsPostgres) struct PostgresRecordStoreTests {
    static func entries(_ records: [SchedulerRecord]) -> [LogEntry] { records.map(\.logEntry) }

    @Test func recordsRoundTripThroughReplayAndReadsByPosition() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let store = try await PostgresRecordStore.open(url: url)
        let first = try store.beginAppend(contentsOf: Self.entries([
            .enqueued(service: "bridge", items: EventBatch(events: [event(1)]), at: SchedulerInstant(millisecondsSinceEpoch: 5)),
            .serviceDown(service: "irc"),
        ]))
        let opaque = try store.beginAppend(contentsOf: [LogEntry(type: 200, payload: [0xFF]), LogEntry(type: 7, payload: [])])
        let third = try store.beginAppend(contentsOf: Self.entries([.sendStarted(service: "bridge", id: 1, attempt: 1)]))
        #expect(first.positions == LogPosition(rawValue: 1)...LogPosition(rawValue: 2))
        #expect(opaque.positions == LogPosition(rawValue: 3)...LogPosition(rawValue: 4))
        #expect(third.positions == LogPosition(rawValue: 5)...LogPosition(rawValue: 5))
        try await third.durable()
        try await first.durable()

        var replayed: [LogRecord] = []
        try store.replay { replayed.append($0) }
        #expect(replayed.map(\.position.rawValue) == [1, 2, 3, 4, 5])
        #expect(replayed[2].type == 200 && replayed[2].payload == [0xFF] && replayed[3].payload.isEmpty)
        #expect(try SchedulerRecord.decode(typeCode: replayed[4].type, payload: replayed[4].payload)
                == .sendStarted(service: "bridge", id: 1, attempt: 1))
        #expect(try store.records(at: [LogPosition(rawValue: 2), LogPosition(rawValue: 5)]) == [replayed[1], replayed[4]])
        #expect(store.statistics.appendedRecords == 5 && store.statistics.logBytes == replayed.reduce(0) { $0 + $1.payload.count })
        // The service column names each scheduler record's service, for per-service queries; an opaque payload has none.
        let services = try await PostgresTestServer.execute("SELECT coalesce(service, '-') FROM asched_records ORDER BY position", on: url)
            .map { try $0.decode(String.self) }
        #expect(services == ["bridge", "irc", "-", "-", "bridge"])

        let missing = LogPosition(rawValue: 9)
        #expect(throws: PostgresStoreError.recordMissing(database: url.description, table: "asched_records", position: 9)) {
            try store.records(at: [LogPosition(rawValue: 1), missing])
        }
        try await store.close()

        let reopened = try await PostgresRecordStore.open(url: url)
        var again: [LogRecord] = []
        try reopened.replay { again.append($0) }
        #expect(again == replayed)
        let next = try reopened.beginAppend(contentsOf: Self.entries([.serviceUp(service: "irc")]))
        #expect(next.positions.lowerBound == LogPosition(rawValue: 6))
        try await next.durable()
        try await reopened.close()
    }

    @Test func aReplayPagesThroughMoreRecordsThanOneQueryReads() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let store = try await PostgresRecordStore.open(url: url)
        let count = 2_500
        let append = try store.beginAppend(contentsOf: (0..<count).map { LogEntry(type: 1, payload: Array("\($0)".utf8)) })
        try await append.durable()
        var positions: [UInt64] = []
        try store.replay { positions.append($0.position.rawValue) }
        #expect(positions == Array(1...UInt64(count)))
        try await store.close()
    }

    @Test func aDatabaseOfANewerSchemaIsRefused() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        try await PostgresRecordStore.open(url: url).close()
        try await PostgresTestServer.execute("UPDATE asched_schema SET version = \(PostgresRecordStore.schemaVersion + 1)", on: url)
        let error = await #expect(throws: PostgresStoreError.self) { try await PostgresRecordStore.open(url: url) }
        #expect(error == .newerSchema(database: url.description, version: PostgresRecordStore.schemaVersion + 1, supportedVersion: PostgresRecordStore.schemaVersion))
        let message = "\(error!)"
        #expect(message.contains("schema version \(PostgresRecordStore.schemaVersion + 1)") && message.contains(url.description) && message.contains("upgrade asched"))
        #expect(!message.contains(url.password!))
    }

    /// A server that is not there is unreachable, which a standby waits out; one that answers and
    /// refuses (a missing database) is not, as waiting would not mend it.
    @Test func aFailedConnectSaysWhetherTheServerAnswered() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let nobody = PostgresDatabaseURL(user: url.user, password: url.password, host: "127.0.0.1", port: try ListeningPort.freeLoopback(),
                                         database: url.database)
        let unanswered = await #expect(throws: PostgresStoreError.self) { try await PostgresRecordStore.open(url: nobody) }
        guard case .serverUnreachable(let name, _)? = unanswered else {
            Issue.record("not unreachable: \(String(describing: unanswered))")
            return
        }
        #expect(name == nobody.description && unanswered!.isUnreachable && "\(unanswered!)".hasPrefix("cannot reach \(nobody)"))

        let missing = PostgresDatabaseURL(user: url.user, password: url.password, host: url.host, port: url.port,
                                          database: "no_such_database", tlsMode: url.tlsMode)
        let refused = await #expect(throws: PostgresStoreError.self) { try await PostgresRecordStore.open(url: missing) }
        guard case .connectionFailed(_, let reason)? = refused else {
            Issue.record("not a refusal: \(String(describing: refused))")
            return
        }
        #expect(!refused!.isUnreachable && reason.contains("no_such_database"), "\(reason)")
    }

    @Test func openingTheDatabaseAgainFencesTheFirstStore() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let first = try await PostgresRecordStore.open(url: url, holder: "first")
        try await first.beginAppend(contentsOf: [LogEntry(type: 1, payload: [1])]).durable()
        let second = try await PostgresRecordStore.open(url: url, holder: "second")
        #expect(second.epoch == first.epoch + 1)

        let refused = try first.beginAppend(contentsOf: [LogEntry(type: 1, payload: [2])])
        let error = await #expect(throws: PostgresStoreError.self) { try await refused.durable() }
        #expect(error == .fenced(database: url.description, table: "asched_records", epoch: first.epoch))
        #expect("\(error!)".contains("another store took the writer lease"))
        #expect(throws: PostgresStoreError.self) { try first.beginAppend(contentsOf: [LogEntry(type: 1, payload: [3])]) }
        await #expect(throws: PostgresStoreError.self) { try await first.compact(before: LogPosition(rawValue: 2), keeping: []) }

        // The second store goes on after what the first committed; the refused record is nowhere.
        let next = try second.beginAppend(contentsOf: [LogEntry(type: 1, payload: [4])])
        #expect(next.positions.lowerBound == LogPosition(rawValue: 2))
        try await next.durable()
        var payloads: [[UInt8]] = []
        try second.replay { payloads.append($0.payload) }
        #expect(payloads == [[1], [4]])
        let holder = try await PostgresTestServer.execute("SELECT holder FROM asched_writer_lease", on: url)
        #expect(try holder.first?.decode(String.self) == "second")
        _ = try? await first.close()
        try await second.close()
    }

    /// Appends racing with another store's open: each is either committed before the lease
    /// moved (and the new store continues after it) or refused, never both or a duplicate position.
    @Test func appendsRacingAnOpenCommitBeforeItOrAreRefused() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let first = try await PostgresRecordStore.open(url: url)
        // The second store opens once some appends have committed, whatever the machine's speed.
        let (someCommitted, signal) = AsyncStream<Void>.makeStream()
        let appending = Task { () -> (committed: [UInt64], refusal: (any Error)?) in
            defer { signal.finish() }
            var committed: [UInt64] = []
            while committed.count < 1_000_000 {
                do {
                    // Several appends in flight at once, as a scheduler has them.
                    let appends = try (0..<4).map { _ in try first.beginAppend(contentsOf: [LogEntry(type: 1, payload: [7])]) }
                    for append in appends {
                        try await append.durable()
                        committed.append(append.positions.lowerBound.rawValue)
                        if committed.count == 8 { signal.yield() }
                    }
                } catch {
                    return (committed, error)
                }
            }
            return (committed, nil)
        }
        for await _ in someCommitted { break }
        let second = try await PostgresRecordStore.open(url: url)
        let (committed, refusal) = await appending.value
        #expect(refusal as? PostgresStoreError == .fenced(database: url.description, table: "asched_records", epoch: first.epoch))
        // Positions commit in order, so what committed is a prefix, and the rest is nowhere.
        #expect(committed.count > 4 && committed == (0..<committed.count).map { UInt64($0) + 1 })
        var replayed: [UInt64] = []
        try second.replay { replayed.append($0.position.rawValue) }
        #expect(replayed == committed)
        let next = try second.beginAppend(contentsOf: [LogEntry(type: 1, payload: [])])
        #expect(next.positions.lowerBound.rawValue == UInt64(committed.count) + 1)
        try await next.durable()
        _ = try? await first.close()
        try await second.close()
    }
}

@Suite struct PostgresDatabaseURLTests {
    @Test func theURLsPasswordIsNeverShown() throws {
        let url = try PostgresDatabaseURL("postgres://asched:s3cret%21@db.example:6543/scheduler")
        #expect(url.password == "s3cret!" && url.port == 6543 && url.database == "scheduler" && url.host == "db.example")
        #expect(url.description == "postgres://asched@db.example:6543/scheduler")
        #expect(try PostgresDatabaseURL("postgresql://u@[::1]/d").description == "postgres://u@[::1]:5432/d")
        for bad in ["mysql://u:s3cret@h/d", "postgres://h/d", "postgres://u:s3cret@h", "postgres://u:s3cret@h/d?sslmode=allow",
                    "postgres://u:s3cret@h/d?sslcert=client.pem", "postgres://u:s3cret@h/d?sslrootcert="] {
            let error = #expect(throws: PostgresStoreError.self) { try PostgresDatabaseURL(bad) }
            #expect(!"\(error!)".contains("s3cret"), "\(bad)")
        }
    }

    @Test func sslmodeAndSslrootcertAreReadAsLibpqDoes() throws {
        #expect(try PostgresDatabaseURL("postgres://u@h/d").tlsMode == .prefer, "libpq's default")
        let url = try PostgresDatabaseURL("postgres://u:s3cret@h/d?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem")
        #expect(url.tlsMode == .verifyFull && url.rootCertificatePath == "/etc/ssl/db-ca.pem")
        #expect(url.description == "postgres://u@h:5432/d?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem")
        #expect(throws: PostgresStoreError.invalidURL(reason: "its sslmode \"allow\" is not one of disable, prefer, require, verify-ca, verify-full")) {
            try PostgresDatabaseURL("postgres://u@h/d?sslmode=allow")
        }
        #expect(throws: PostgresStoreError.invalidURL(reason: "it has the parameter \"sslcrl\"; asched reads only sslmode, sslrootcert, "
                                                          + "sslcert and sslkey")) {
            try PostgresDatabaseURL("postgres://u@h/d?sslcrl=revoked.pem")
        }
    }

    @Test func sslcertAndSslkeyComeTogether() throws {
        let url = try PostgresDatabaseURL("postgres://u@h/d?sslcert=/etc/asched/client.crt&sslkey=/etc/asched/client.key")
        #expect(url.clientCertificatePath == "/etc/asched/client.crt" && url.clientKeyPath == "/etc/asched/client.key")
        #expect(url.description == "postgres://u@h:5432/d?sslcert=/etc/asched/client.crt&sslkey=/etc/asched/client.key")
        #expect(throws: PostgresStoreError.invalidURL(reason: "its sslcert has no sslkey (the certificate's private key)")) {
            try PostgresDatabaseURL("postgres://u@h/d?sslcert=client.crt")
        }
        #expect(throws: PostgresStoreError.invalidURL(reason: "its sslkey has no sslcert (the certificate it is the key of)")) {
            try PostgresDatabaseURL("postgres://u@h/d?sslkey=client.key")
        }
        #expect(throws: PostgresStoreError.invalidURL(reason: "its sslcert is never sent with sslmode=disable; drop one of them")) {
            try PostgresDatabaseURL("postgres://u@h/d?sslmode=disable&sslcert=client.crt&sslkey=client.key")
        }
        #expect(throws: PostgresStoreError.invalidURL(reason: "its sslkey is empty; give the path of a PEM file")) {
            try PostgresDatabaseURL("postgres://u@h/d?sslcert=client.crt&sslkey=")
        }
    }
}

/// A JSON event whose body names it.
func event(_ number: Int) -> [UInt8] {
    Array("{\"type\":\"m.room.message\",\"content\":{\"n\":\(number)}}".utf8)
}
