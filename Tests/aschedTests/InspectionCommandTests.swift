import AppServiceHTTP
import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import Testing

@Suite struct InspectionCommandTests {
    @Test func verifyPassesACleanLog() async throws {
        let log = try await TestLog.make()
        let outcome = try AschedBinary.run(["verify", log.directory])
        #expect(outcome.status == 0, "\(outcome.standardOutput)")
        #expect(outcome.standardOutput.contains("checked \(try log.records().count) records in \(log.segments.count) segments"))
        #expect(outcome.standardOutput.contains(": 0 errors, 0 warnings"))
    }

    @Test func verifyWarnsAboutATornTailAndStillPasses() async throws {
        let log = try await TestLog.make()
        let last = log.segments.last!
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: last))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0x30, 0, 0, 0, 0x30, 0, 0, 0, 9]))
        try handle.close()
        let outcome = try AschedBinary.run(["verify", log.directory])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.contains("warning: \(last) at offset"))
        #expect(outcome.standardOutput.contains("0 errors, 1 warnings"))
    }

    @Test func verifyReportsEveryDamageWithFileAndOffsetAndFails() async throws {
        let log = try await TestLog.make(segmentSizeBytes: 256)
        let records = try log.records()
        let segments = log.segments
        try #require(segments.count >= 4)
        let first = records.first { $0.location.segmentFileName == URL(fileURLWithPath: segments[0]).lastPathComponent }!
        let third = records.first { $0.location.segmentFileName == URL(fileURLWithPath: segments[2]).lastPathComponent }!
        try log.damage(segments[0], at: first.location.offset + 26)
        try log.damage(segments[2], at: third.location.offset + 26)
        let outcome = try AschedBinary.run(["verify", log.directory])
        #expect(outcome.status == 1)
        #expect(outcome.standardOutput.contains("error: \(segments[0]) at offset \(first.location.offset): checksum mismatch"))
        #expect(outcome.standardOutput.contains("error: \(segments[2]) at offset \(third.location.offset): checksum mismatch"))
    }

    @Test func verifyReportsAMissingSegment() async throws {
        let log = try await TestLog.make(segmentSizeBytes: 512)
        let segments = log.segments
        try FileManager.default.removeItem(atPath: segments[1])
        let outcome = try AschedBinary.run(["verify", log.directory])
        #expect(outcome.status == 1)
        #expect(outcome.standardOutput.contains("error: \(segments[2]) at offset 32: previous chain: expected"))
    }

    @Test func dumpJSONParsesLineByLineAndFilters() async throws {
        let log = try await TestLog.make()
        let records = try log.records()
        let all = try AschedBinary.run(["dump", log.directory, "--json"])
        #expect(all.status == 0)
        let lines = all.standardOutput.split(separator: "\n").map { String($0) }
        #expect(lines.count == records.count)
        let objects = try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(objects.map { $0["position"] as? UInt64 } == records.map { $0.position.rawValue })
        #expect(objects.allSatisfy { $0["type"] is String && $0["segment"] is String && $0["offset"] is Int })

        let failed = try AschedBinary.run(["dump", log.directory, "--json", "--service", "slack", "--type", "send-failed"])
        let failedObjects = try failed.standardOutput.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let expected = try records.filter {
            try SchedulerRecord.decode(typeCode: $0.type, payload: $0.payload) == .sendFailed(service: "slack", id: 1, reason: "HTTP 502 from slack")
        }
        #expect(failedObjects.map { $0["position"] as? UInt64 } == expected.map { $0.position.rawValue })
        #expect(failedObjects.first?["txn"] as? Int == 1)

        let payloads = try AschedBinary.run(["dump", log.directory, "--json", "--payload", "--type", "enqueued", "--service", "irc"])
        #expect(payloads.standardOutput.contains("message 2"))
    }

    @Test func dumpStreamsIntoHead() async throws {
        let log = try await TestLog.make()
        let outcome = try AschedBinary.run(["dump", log.directory, "--from", "3", "--to", "5"])
        #expect(outcome.standardOutput.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) } == ["3", "4", "5"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "'\(AschedBinary.path)' dump '\(log.directory)' | head -n 1"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.split(separator: "\n").count == 1 && text.hasPrefix("1  "))
    }

    @Test func stateAtAPositionMatchesTheLiveStateThere() async throws {
        let log = try await TestLog.make()
        for position in log.states.keys.sorted() {
            let outcome = try AschedBinary.run(["state", log.directory, "--at", "\(position)", "--json"])
            let object = try #require(JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let expected = try JSONSerialization.jsonObject(with: encoder.encode(ServiceStatus.all(in: log.states[position]!)))
            #expect((object["services"] as? NSArray) == (expected as? NSArray), "at \(position)")
            #expect(object["position"] as? UInt64 == position.rawValue)
        }
        let text = try AschedBinary.run(["state", log.directory])
        #expect(text.standardOutput.contains("service slack: DOWN") && text.standardOutput.contains("service irc: UP"))
    }

    @Test func inspectSummarizesSegmentsTypesServicesAndReclaimableSpace() async throws {
        let log = try await TestLog.make(segmentSizeBytes: 512)
        let outcome = try AschedBinary.run(["inspect", log.directory])
        #expect(outcome.status == 0)
        let text = outcome.standardOutput
        #expect(text.contains("\(log.segments.count) segments, \(try log.records().count) records"))
        for segment in log.segments { #expect(text.contains(URL(fileURLWithPath: segment).lastPathComponent)) }
        #expect(text.contains("transaction-completed") && text.contains("service-down"))
        let records = try log.records().count
        #expect(text.contains("service slack: DOWN") && text.contains("compaction: 5 of \(records) records still hold queued or pending items")
                && text.contains("backlog of slack: 4 items in 4 records"))
    }

    @Test func repairDryRunAndRefusal() async throws {
        let log = try await TestLog.make(segmentSizeBytes: 512)
        let records = try log.records()
        let sealed = log.segments[0]
        let record = records.first { sealed.hasSuffix($0.location.segmentFileName) }!
        try log.damage(sealed, at: record.location.offset + 30)
        let refused = try AschedBinary.run(["repair", log.directory])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("repair refused at") && refused.standardError.contains(sealed))

        let clean = try await TestLog.make()
        let nothing = try AschedBinary.run(["repair", clean.directory, "--dry-run"])
        #expect(nothing.status == 0 && nothing.standardOutput.contains("nothing to repair"))
    }

    @Test func missingAndNonLogDirectoriesAreNamed() throws {
        let missing = "/nonexistent/asched-data"
        for command in ["inspect", "dump", "verify", "state", "repair"] {
            let outcome = try AschedBinary.run([command, missing])
            #expect(outcome.status != 0, "\(command)")
            #expect(outcome.standardError.contains("\(missing) is not a log directory: no such directory"), "\(command)")
        }
        let empty = FileManager.default.temporaryDirectory.path + "/asched-empty-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let outcome = try AschedBinary.run(["verify", empty])
        #expect(outcome.status != 0 && outcome.standardError.contains("holds no segment files"))
    }

    @Test func inspectAndDumpBesideALiveWriterNeitherBlockNorCorrupt() async throws {
        let log = try await TestLog.make()
        let transport = ScriptedTransport()
        let scheduler = try await AppServiceScheduler.open(
            directory: log.directory, services: [ServiceDescriptor(id: "irc"), ServiceDescriptor(id: "slack")],
            transport: transport, clock: ManualClock())
        for number in 100..<140 {
            _ = try await scheduler.enqueue(EventBatch(events: [TestLog.event(number)]), for: "irc")
            if number % 10 == 0 {
                let dump = try AschedBinary.run(["dump", log.directory, "--json"])
                #expect(dump.status == 0, "\(dump.standardError)")
                let inspect = try AschedBinary.run(["inspect", log.directory])
                #expect(inspect.status == 0, "\(inspect.standardError)")
            }
        }
        try await scheduler.close()
        let verify = try AschedBinary.run(["verify", log.directory])
        #expect(verify.status == 0 && verify.standardOutput.contains("0 errors"))
    }

    @Test func helpExplainsEachCommandWithExamples() throws {
        for command in ["inspect", "dump", "verify", "state", "repair"] {
            let outcome = try AschedBinary.run([command, "--help"])
            #expect(outcome.status == 0 && outcome.standardOutput.contains("Example"), "\(command)")
        }
    }
}
