import AppServiceScheduler
import AppServiceSchedulerTesting
import AsyncHTTPClient
import Foundation
import NIOCore
import SegmentLog
import Testing

/// The real `asched purge-service` on the test log, where slack is DOWN with pending
/// transaction 1 and 4 queued events (next id 2) and irc delivered 3 transactions.
@Suite struct PurgeServiceCommandTests {
    /// Every file in `directory` with its bytes.
    static func contents(of directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
        }
        return files
    }

    static func statusJSON(of directory: String) throws -> [String: [String: Any]] {
        let outcome = try AschedBinary.run(["state", directory, "--json"])
        let object = try #require(JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
        let services = try #require(object["services"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: services.map { ($0["id"] as! String, $0) })
    }

    static func segmentBytes(of directory: String) throws -> Int {
        try LogReader(directory: directory).segmentFileNames.reduce(0) {
            $0 + (try FileManager.default.attributesOfItem(atPath: directory + "/" + $1)[.size] as! Int)
        }
    }

    @Test func purgeDropsQueuedAndPendingItemsKeepsTheNextIDAndReclaimsSpace() async throws {
        let log = try await TestLog.make()
        let bytesBefore = try Self.segmentBytes(of: log.directory)
        let outcome = try AschedBinary.run(["purge-service", log.directory, "slack"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let text = outcome.standardOutput
        #expect(text.contains("purged service slack in \(log.directory):"), "\(text)")
        #expect(text.contains("queued items dropped: 4 events, 0 ephemeral, 0 to-device, 0 device data"), "\(text)")
        #expect(text.contains("pending transactions dropped: 1 (ids 1), holding 1 items"), "\(text)")
        #expect(text.contains("next transaction id kept: 2"), "\(text)")
        #expect(text.contains("compacted below position"), "\(text)")
        let bytesAfter = try Self.segmentBytes(of: log.directory)
        #expect(bytesAfter < bytesBefore)
        #expect(text.contains("the log's segments went from \(bytesBefore) to \(bytesAfter) bytes: "
                              + "\(bytesBefore - bytesAfter) bytes reclaimed"), "\(text)")

        let services = try Self.statusJSON(of: log.directory)
        let slack = try #require(services["slack"])
        #expect(slack["queued_events"] as? Int == 0 && slack["pending_txns"] as? Int == 0)
        #expect(slack["next_txn_id"] as? Int == 2 && slack["state"] as? String == "up")
        #expect(services["irc"]?["next_txn_id"] as? Int == 4 && services["irc"]?["last_completed_txn"] as? Int == 3)
        let verify = try AschedBinary.run(["verify", log.directory])
        #expect(verify.status == 0 && verify.standardOutput.contains("0 errors"), "\(verify.standardOutput)")
        // The compaction dropped the purge record; the state still says when the purge was.
        let inspect = try AschedBinary.run(["inspect", log.directory])
        #expect(inspect.standardOutput.contains("slack purged at "), "\(inspect.standardOutput)")
    }

    @Test func dryRunReportsTheSameAndLeavesEveryByteAlone() async throws {
        let log = try await TestLog.make()
        let before = try Self.contents(of: log.directory)
        let outcome = try AschedBinary.run(["purge-service", log.directory, "slack", "--dry-run"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.standardOutput.contains("would purge service slack"))
        #expect(outcome.standardOutput.contains("pending transactions dropped: 1 (ids 1), holding 1 items"))
        #expect(outcome.standardOutput.contains("next transaction id kept: 2"))
        #expect(outcome.standardOutput.contains("dry run: nothing was written"))
        #expect(try Self.contents(of: log.directory) == before)
    }

    @Test func refusesBesideTheWriterNamingTheDirectory() async throws {
        let log = try await TestLog.make()
        let scheduler = try await AppServiceScheduler.open(
            directory: log.directory, services: [ServiceDescriptor(id: "irc")],
            transport: ScriptedTransport(), clock: ManualClock())
        let outcome = try AschedBinary.run(["purge-service", log.directory, "slack"])
        try await scheduler.close()
        #expect(outcome.status != 0)
        #expect(outcome.standardError.contains("another writer holds \(log.directory)/LOCK"), "\(outcome.standardError)")
        #expect(try Self.statusJSON(of: log.directory)["slack"]?["queued_events"] as? Int == 4)
    }

    @Test func anUnknownServiceFailsListingTheKnownOnes() async throws {
        let log = try await TestLog.make()
        let before = try Self.contents(of: log.directory)
        for arguments in [["purge-service", log.directory, "telegram"], ["purge-service", log.directory, "telegram", "--dry-run"]] {
            let outcome = try AschedBinary.run(arguments)
            #expect(outcome.status != 0)
            #expect(outcome.standardError.contains("has no service \"telegram\"; its services are: irc, slack"),
                    "\(outcome.standardError)")
        }
        // Only the lock file changes: it names the pid of its last holder.
        #expect(try Self.contents(of: log.directory).filter { $0.key != "LOCK" } == before.filter { $0.key != "LOCK" })
    }

    @Test func dumpAndInspectShowAPurgeRecord() async throws {
        let log = try await TestLog.make()
        let scheduler = try await AppServiceScheduler.open(
            directory: log.directory, services: [ServiceDescriptor(id: "irc")],
            transport: ScriptedTransport(), clock: ManualClock())
        _ = try await scheduler.purge("slack")
        try await scheduler.close()
        let position = try #require(try log.records().last).position

        let dump = try AschedBinary.run(["dump", log.directory, "--type", "service-purged"])
        #expect(dump.status == 0)
        let lines = dump.standardOutput.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.hasPrefix("\(position)  ") == true
                && lines.first?.contains("service-purged  slack") == true, "\(dump.standardOutput)")
        let inspect = try AschedBinary.run(["inspect", log.directory])
        // ManualClock starts at 1_700_000_000_000 ms.
        #expect(inspect.standardOutput.contains("slack purged at 2023-11-14T22:13:20"), "\(inspect.standardOutput)")
        #expect(inspect.standardOutput.contains("service-purged         1"))
    }

    @Test func helpSaysWhenToUseIt() throws {
        let outcome = try AschedBinary.run(["purge-service", "--help"])
        #expect(outcome.status == 0 && outcome.standardOutput.contains("Example"))
        for phrase in ["remove its registration", "stop the daemon", "writer lock", "none is reused", "--dry-run"] {
            #expect(outcome.standardOutput.contains(phrase), "\(phrase)")
        }
    }

    /// The service registered again in a real daemon: its next transaction is 2, not 1.
    @Test func aDaemonWithTheServiceBackContinuesItsTransactionIDs() async throws {
        let log = try await TestLog.make()
        #expect(try AschedBinary.run(["purge-service", log.directory, "slack"]).status == 0)
        // The discard port refuses: every attempt fails, and still creates and records the transaction.
        let directory = try ServeCommandTests.daemonDirectory(service: "slack", token: "purge-test-token", dataDirectory: log.directory)
        let (process, port, output) = try ServeCommandTests.start(config: directory + "/asched.yaml")
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let status = try await ServeCommandTests.enqueue(client, port: port, service: "slack", token: "purge-test-token")
        try await client.shutdown()
        #expect(status == 200)

        // Transaction 1's records may outlive the compaction (a segment more than a third live
        // is kept as it is), so wait for the new transaction, whatever came before it.
        var created: [Int] = []
        for _ in 0..<100 where (created.last ?? 0) < 2 {
            let dump = try AschedBinary.run(["dump", log.directory, "--type", "transaction-created", "--service", "slack", "--json"])
            created = dump.standardOutput.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["txn"] as? Int
            }
            if (created.last ?? 0) < 2 { try await Task.sleep(for: .milliseconds(100)) }
        }
        process.terminate()
        process.waitUntilExit()
        let daemonOutput = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(daemonOutput)")
        #expect(created.last == 2 && created.filter { $0 == 2 }.count == 1 && created.allSatisfy { $0 <= 2 },
                "transaction ids of slack after the purge: \(created); the new one must continue from 2")
    }
}
