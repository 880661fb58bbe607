import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import Synchronization
import Testing

/// Runs the built `asched` binary, as a user would.
enum AschedBinary {
    struct Outcome {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    /// The `asched` built beside this test binary.
    static var path: String {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("asched").path),
              directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("asched").path
    }

    static func run(_ arguments: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
                       standardError: String(decoding: errorData, as: UTF8.self))
    }
}

/// A scheduler log written for a test: "irc" delivered three transactions; "slack" is DOWN
/// with one pending transaction and queued events.
struct TestLog {
    let directory: String
    /// The live state recorded after each record, by position.
    let states: [LogPosition: SchedulerState]

    static func make(segmentSizeBytes: Int = 1024) async throws -> TestLog {
        let directory = FileManager.default.temporaryDirectory.path + "/asched-tests/" + UUID().uuidString
        let recorder = StateRecorder()
        var configuration = SchedulerConfiguration()
        configuration.log.segmentSizeBytes = segmentSizeBytes
        configuration.log.preallocation = .none
        // The damage tests need every segment as written: a compaction would replace some.
        configuration.compactAfterSealedSegments = nil
        configuration.onRecordApplied = recorder.record
        let transport = ScriptedTransport()
        transport.script([.failed(reason: "HTTP 502 from slack")], for: "slack")
        let scheduler = try await AppServiceScheduler.open(
            directory: directory, services: [ServiceDescriptor(id: "irc"), ServiceDescriptor(id: "slack")],
            transport: transport, clock: ManualClock(), configuration: configuration)
        let events = await scheduler.events()
        for number in 1...3 {
            _ = try await scheduler.enqueue(EventBatch(events: [Self.event(number)]), for: "irc")
            for await event in events where event == .completed(service: "irc", transaction: UInt64(number)) { break }
        }
        _ = try await scheduler.enqueue(EventBatch(events: [Self.event(10)]), for: "slack")
        for await event in events where event == .down(service: "slack") { break }
        for number in 11...14 {
            _ = try await scheduler.enqueue(EventBatch(events: [Self.event(number)]), for: "slack")
        }
        try await scheduler.close()
        return TestLog(directory: directory, states: recorder.states)
    }

    static func event(_ number: Int) -> [UInt8] {
        Array("{\"type\":\"m.room.message\",\"content\":{\"body\":\"message \(number)\"}}".utf8)
    }

    var segments: [String] {
        (try? LogReader(directory: directory).segmentFileNames.map { directory + "/" + $0 }) ?? []
    }

    func records() throws -> [LogRecord] {
        var cursor = try LogReader(directory: directory).records()
        var records: [LogRecord] = []
        while let record = try cursor.next() { records.append(record) }
        return records
    }

    func damage(_ file: String, at offset: Int) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[offset] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: file))
    }
}

final class StateRecorder: Sendable {
    private let storage = Mutex<[LogPosition: SchedulerState]>([:])
    var states: [LogPosition: SchedulerState] { storage.withLock { $0 } }
    func record(_ position: LogPosition, _ state: SchedulerState) { storage.withLock { $0[position] = state } }
}
