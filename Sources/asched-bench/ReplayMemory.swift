import AppServiceScheduler
import Foundation
import Glibc
import SegmentLog

/// Peak resident memory while the scheduler replays a log of many completed events: replay
/// streams, so memory follows the pending state, not the log's length.
struct ReplayMemory {
    struct Result {
        let events: Int
        let peakBytes: Int
        let seconds: Double
    }

    struct Silent: Transport {
        func send(_ transaction: OutgoingTransaction) async -> SendOutcome { .delivered }
    }

    let directory: String
    let completedEvents: Int

    /// Writes the log here, then replays it in a fresh process (this executable with
    /// `--replay-probe DIR`), whose own peak resident memory is the figure.
    func run() async throws -> Result {
        try? FileManager.default.removeItem(atPath: directory)
        try await write()
        let fields = try ChildProbe.numbers(["--replay-probe", directory], count: 2)
        return Result(events: completedEvents, peakBytes: Int(fields[0]), seconds: fields[1])
    }

    /// The probe: opens (replays) the scheduler on `directory`; prints peak RSS bytes and seconds.
    static func probe(directory: String) async throws {
        var configuration = SchedulerConfiguration()
        configuration.compactAfterSealedSegments = nil
        configuration.log.preallocation = .none
        let started = ContinuousClock.now
        let scheduler = try await AppServiceScheduler.open(directory: directory, services: [ServiceDescriptor(id: "bridge")],
                                                           transport: Silent(), clock: SystemClock(), configuration: configuration)
        let seconds = EndToEnd.seconds(ContinuousClock.now - started)
        try await scheduler.close()
        print("\(peakResidentBytes()) \(seconds)")
    }

    /// The peak resident memory of `process` (a pid, or `self`) so far: VmHWM, not getrusage's
    /// ru_maxrss, which Linux carries over from the parent across fork and exec, so a probe
    /// would report the benchmark's own peak.
    static func peakResidentBytes(process: String = "self") -> Int {
        statusBytes("VmHWM", process: process)
    }

    /// The resident memory of `process` now (VmRSS).
    static func residentBytes(process: String = "self") -> Int {
        statusBytes("VmRSS", process: process)
    }

    /// A `/proc/PID/status` field given in kB, in bytes (0 when it cannot be read).
    private static func statusBytes(_ field: String, process: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8)) ?? ""
        let kib = status.split(separator: "\n").first { $0.hasPrefix(field + ":") }?
            .split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return kib * 1024
    }

    /// A log of `completedEvents` events in transactions of 100, every one completed.
    private func write() async throws {
        var configuration = SegmentLog.Configuration()
        configuration.syncPolicy = .never
        configuration.preallocation = .none
        let log = try SegmentLog.open(directory: directory, configuration: configuration)
        for transaction in 0..<(completedEvents / 100) {
            let id = UInt64(transaction + 1)
            let events = (0..<100).map { Array("{\"type\":\"m.room.message\",\"content\":{\"n\":\(transaction * 100 + $0)}}".utf8) }
            let records: [SchedulerRecord] = [
                .enqueued(service: "bridge", items: EventBatch(events: events), at: .epoch),
                .transactionCreated(service: "bridge", id: id, events: 100, ephemeral: 0, toDevice: 0, fields: []),
                .sendStarted(service: "bridge", id: id, attempt: 1),
                .sendSucceeded(service: "bridge", id: id),
                .transactionCompleted(service: "bridge", id: id),
            ]
            _ = try await log.append(contentsOf: records.map { $0.logEntry })
        }
        try await log.close()
    }
}
