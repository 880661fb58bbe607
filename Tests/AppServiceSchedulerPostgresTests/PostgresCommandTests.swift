import AppServiceHTTP
import AppServiceScheduler
import AppServiceSchedulerPostgres
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import Synchronization
import Testing

/// The offline commands on a PostgreSQL database: `inspect`, `dump`, `state` (`--at`) and
/// `verify` read it by `--database-url` or the environment variable, without taking the writer
/// lease; `compact` and `repair` refuse it.
@Suite(needsPostgres) struct PostgresCommandTests {
    /// A database where "irc" delivered two transactions and "slack" is DOWN with one pending and
    /// more queued, with the state after each record, and the store's holder still holding the lease.
    static func database() async throws -> (url: PostgresDatabaseURL, states: [UInt64: SchedulerState]) {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let states = Mutex<[UInt64: SchedulerState]>([:])
        var configuration = SchedulerConfiguration()
        configuration.onRecordApplied = { position, state in states.withLock { $0[position.rawValue] = state } }
        let transport = ScriptedTransport()
        transport.script([.failed(reason: "HTTP 502 from slack")], for: "slack")
        let scheduler = try await AppServiceScheduler.open(
            store: try await PostgresRecordStore.open(url: url, holder: "east-1"),
            services: [ServiceDescriptor(id: "irc"), ServiceDescriptor(id: "slack")], transport: transport, clock: ManualClock(),
            configuration: configuration)
        let events = await scheduler.events()
        for number in 1...2 {
            _ = try await scheduler.enqueue(EventBatch(events: [event(number)]), for: "irc")
            for await event in events where event == .completed(service: "irc", transaction: UInt64(number)) { break }
        }
        _ = try await scheduler.enqueue(EventBatch(events: [event(10)]), for: "slack")
        for await event in events where event == .down(service: "slack") { break }
        _ = try await scheduler.enqueue(EventBatch(events: [event(11)]), for: "slack")
        try await scheduler.close()
        return (url, states.withLock { $0 })
    }

    /// The `asched` built beside this test binary.
    static var aschedPath: URL {
        var path = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: path.appendingPathComponent("asched").path), path.path != "/" {
            path = path.deletingLastPathComponent()
        }
        return path.appendingPathComponent("asched")
    }

    static func asched(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = aschedPath
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != DaemonConfiguration.databaseURLVariable }
            .merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func services(_ output: String) throws -> [String: [String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let list = try #require(object["services"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: list.map { ($0["id"] as? String ?? "", $0) })
    }

    @Test func theReadCommandsReadTheDatabaseWithoutTakingTheLease() async throws {
        let (url, states) = try await Self.database()
        let withPassword = PostgresDaemon.urlWithPassword(url)
        let secret = try #require(url.password)

        let state = try Self.asched(["state", "--database-url", withPassword, "--json"])
        #expect(state.status == 0, "\(state.output)")
        let services = try Self.services(state.output)
        #expect(services["irc"]?["last_completed_txn"] as? Int == 2 && services["slack"]?["state"] as? String == "down")
        #expect(services["slack"]?["pending_txns"] as? Int == 1 && services["slack"]?["queued_events"] as? Int == 1)

        // --at N through the environment variable: the state the live scheduler had after record N.
        let middle = try #require(states.keys.sorted().dropFirst(states.count / 2).first)
        let at = try Self.asched(["state", "--at", "\(middle)", "--json"], environment: [DaemonConfiguration.databaseURLVariable: withPassword])
        #expect(at.status == 0, "\(at.output)")
        let expected = ServiceStatus.all(in: try #require(states[middle]))
        let atServices = try Self.services(at.output)
        #expect(atServices.keys.sorted() == expected.map(\.id))
        for status in expected {
            #expect(atServices[status.id]?["next_txn_id"] as? Int == Int(status.nextTxnId))
            #expect(atServices[status.id]?["queued_events"] as? Int == status.queuedEvents)
        }

        let dump = try Self.asched(["dump", "--database-url", withPassword, "--json"])
        #expect(dump.status == 0)
        let positions = dump.output.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["position"] as? Int
        }
        #expect(positions == states.keys.sorted().map { Int($0) }, "one line per record, in order")

        let inspect = try Self.asched(["inspect", "--database-url", withPassword])
        #expect(inspect.status == 0, "\(inspect.output)")
        #expect(inspect.output.contains("database \(url):") && inspect.output.contains("writer lease: epoch 1, held by east-1"))
        #expect(inspect.output.contains("service slack: DOWN"))

        let verify = try Self.asched(["verify", "--database-url", withPassword])
        #expect(verify.status == 0 && verify.output.contains("checked \(states.count) records in \(url)"), "\(verify.output)")

        for output in [state.output, at.output, dump.output, inspect.output, verify.output] {
            #expect(!output.contains(secret), "the password is never printed")
        }
        let row = try #require(try await PostgresTestServer.execute("SELECT epoch, holder FROM asched_writer_lease", on: url).first)
        let (epoch, holder) = try row.decode((Int64, String).self)
        #expect(epoch == 1 && holder == "east-1", "reading took no lease")
    }

    @Test func verifyNamesARowThatIsNoRecord() async throws {
        let (url, states) = try await Self.database()
        let last = try #require(states.keys.max())
        try await PostgresTestServer.execute("INSERT INTO asched_records (position, type, payload) VALUES (\(last + 1), 1, '\\xff')", on: url)
        let verify = try Self.asched(["verify", "--database-url", PostgresDaemon.urlWithPassword(url)])
        #expect(verify.status == 1)
        #expect(verify.output.contains("error: \(url) asched_records position \(last + 1): not a scheduler record"), "\(verify.output)")
    }

    @Test func theEmbeddedLogsCommandsRefuseADatabase() throws {
        for arguments in [["compact"], ["repair"], ["repair", "--dry-run"], ["purge-service", "/tmp/x", "irc"]] {
            let outcome = try Self.asched(arguments + ["--database-url", "postgres://asched:db_secret_value@127.0.0.1:1/asched"])
            #expect(outcome.status != 0)
            #expect(outcome.output.contains("work on the embedded log's data directory only"), "\(arguments): \(outcome.output)")
            #expect(!outcome.output.contains("db_secret_value"))
        }
    }

    @Test func aReadCommandWithoutADirectoryOrADatabaseSaysSo() throws {
        let outcome = try Self.asched(["state"])
        #expect(outcome.status != 0 && outcome.output.contains("give a data directory, or --database-url URL (or set ASCHED_DATABASE_URL)"))
        let bad = try Self.asched(["dump", "--database-url", "postgres://asched:db_secret_value@/asched"])
        #expect(bad.status != 0 && bad.output.contains("--database-url: the database URL cannot be used: it names no host"), "\(bad.output)")
        #expect(!bad.output.contains("db_secret_value"))
    }
}
