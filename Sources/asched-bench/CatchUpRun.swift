import AppServiceScheduler
import Foundation
import Glibc
import SegmentLog
import Synchronization

/// Linear catch-up, measured where it is decided: the scheduler alone, in a fresh process, opens
/// a log holding a backlog of `backlog` events for service `down` (records of 5 events of ~600 B,
/// interleaved with as many records for a service that is not configured, as an outage leaves
/// them) and sends it to a transport that accepts at once (`fsync: always`, one transaction in
/// flight). What is timed is the first ``measuredEvents`` events, from the first transaction's
/// arrival: forming, reading back and recording transactions, never the HTTP stack. A backlog
/// of 10,000 and one of 1,000,000 must drain those events within 2x of each other.
struct CatchUpRun {
    /// Events timed from the first transaction's arrival.
    static let measuredEvents = 10_000
    static let eventsPerRecord = 5

    struct Result {
        let backlog: Int
        let openSeconds: Double
        /// Events/s over the first ``measuredEvents`` events, from the first transaction's arrival.
        let rate: Double
    }

    let directory: String
    let backlog: Int

    func run() async throws -> Result {
        try? FileManager.default.removeItem(atPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await write()
        // Written without syncs, for speed; flushed before the probe, as an outage's records
        // (synced one by one) would be, so that writeback does not compete with the drain's syncs.
        Glibc.sync()
        let fields = try ChildProbe.numbers(["--catch-up-probe", directory], count: 2)
        return Result(backlog: backlog, openSeconds: fields[0], rate: fields[1])
    }

    /// The backlog, written straight to the log: what the outage would have left.
    private func write() async throws {
        var configuration = SegmentLog.Configuration()
        configuration.syncPolicy = .never
        configuration.preallocation = .none
        configuration.segmentSizeBytes = OutageReport.segmentBytes
        let log = try SegmentLog.open(directory: directory, configuration: configuration)
        var random: UInt64 = 0x2545_F491_4F6C_DD1D
        func event(_ sender: String) -> [UInt8] {
            let padding = String((0..<480).map { _ in
                random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Character(UnicodeScalar(UInt8(97 + (random >> 59))))
            })
            return Array(("{\"type\":\"m.room.message\",\"sender\":\"@\(sender):bench.example\",\"room_id\":\"!room0:bench.example\","
                + "\"content\":{\"msgtype\":\"m.text\",\"body\":\"\(padding)\"}}").utf8)
        }
        // A few distinct batches, so LZ4 sees text it cannot shrink much, as in the outage.
        let batches = (0..<16).map { _ in
            (down: EventBatch(events: (0..<Self.eventsPerRecord).map { _ in event("down_0") }),
             up: EventBatch(events: (0..<Self.eventsPerRecord).map { _ in event("up_0") }))
        }
        let records = backlog / Self.eventsPerRecord
        for start in stride(from: 0, to: records, by: 500) {
            var entries: [LogEntry] = []
            for record in start..<min(start + 500, records) {
                let batch = batches[record % batches.count]
                entries.append(SchedulerRecord.enqueued(service: "down", items: batch.down, at: .epoch).logEntry)
                entries.append(SchedulerRecord.enqueued(service: "up", items: batch.up, at: .epoch).logEntry)
            }
            _ = try await log.append(contentsOf: entries)
        }
        try await log.close()
    }

    /// A transport that accepts every transaction at once and notes when each arrived.
    final class Recorder: Transport, Sendable {
        struct Arrivals {
            var times: [ContinuousClock.Instant] = []
            var events: [Int] = []
            var total = 0
        }

        let arrivals = Mutex(Arrivals())
        static let marker = Array("m.room.message".utf8)

        func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
            let now = ContinuousClock.now
            let events = Self.count(in: transaction.body)
            arrivals.withLock {
                $0.times.append(now)
                $0.events.append(events)
                $0.total += events
            }
            return .delivered
        }

        private static func count(in body: [UInt8]) -> Int {
            var found = 0
            var index = 0
            while index + marker.count <= body.count {
                if body[index] == marker[0] && body[index..<index + marker.count].elementsEqual(marker) {
                    found += 1
                    index += marker.count
                } else {
                    index += 1
                }
            }
            return found
        }
    }

    /// The probe (`asched-bench --catch-up-probe DIR`): opens the scheduler on the backlog with
    /// only `down` configured, lets it send until ``measuredEvents`` events arrived after the first
    /// transaction, and prints the open's seconds and that rate.
    static func probe(directory: String) async throws {
        var configuration = SchedulerConfiguration()
        configuration.compactAfterSealedSegments = nil
        configuration.log.segmentSizeBytes = OutageReport.segmentBytes
        let recorder = Recorder()
        let started = ContinuousClock.now
        let scheduler = try await AppServiceScheduler.open(directory: directory, services: [ServiceDescriptor(id: "down")],
                                                           transport: recorder, clock: SystemClock(), configuration: configuration)
        let opened = ContinuousClock.now
        while recorder.arrivals.withLock({ $0.total }) < measuredEvents {
            try await Task.sleep(for: .milliseconds(2))
        }
        try await scheduler.close()
        let arrivals = recorder.arrivals.withLock { $0 }
        // The events after the first transaction (its arrival starts the clock) up to the measured count.
        let rate = Double(arrivals.total - arrivals.events[0]) / EndToEnd.seconds(arrivals.times.last! - arrivals.times[0])
        print("\(EndToEnd.seconds(opened - started)) \(rate)")
    }
}
