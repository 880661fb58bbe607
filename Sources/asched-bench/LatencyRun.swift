import AppServiceScheduler
import Foundation
import SegmentLog

/// Enqueue latency (one event, fsync always) for a healthy service, with and without
/// compaction running beside it. A second service is DOWN with a large queue, so every
/// compaction rewrites megabytes of pending state.
struct LatencyRun {
    struct Result {
        let p50: Double
        let p99: Double
        let compactions: Int
    }

    struct Instant: Transport {
        func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
            transaction.service == "down" ? .failed(reason: "down for the benchmark") : .delivered
        }
    }

    let directory: String
    let enqueues: Int
    let compaction: Bool

    func run() async throws -> Result {
        try? FileManager.default.removeItem(atPath: directory)
        var configuration = SchedulerConfiguration()
        configuration.log.segmentSizeBytes = 1 << 20
        configuration.compactAfterSealedSegments = nil
        configuration.backoff = BackoffPolicy(initial: .seconds(3600), maximum: .seconds(3600))
        let scheduler = try await AppServiceScheduler.open(
            directory: directory, services: [ServiceDescriptor(id: "up"), ServiceDescriptor(id: "down")],
            transport: Instant(), clock: SystemClock(), configuration: configuration)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        // Pseudo-random text: LZ4 must not shrink the queue away, or there would be nothing to compact.
        func padding() -> String {
            String((0..<400).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Character(UnicodeScalar(UInt8(97 + (state >> 59))))
            })
        }
        for batch in 0..<200 {
            let events = (0..<100).map { Array("{\"type\":\"m.room.message\",\"content\":{\"n\":\(batch * 100 + $0),\"p\":\"\(padding())\"}}".utf8) }
            _ = try await scheduler.enqueue(EventBatch(events: events), for: "down")
        }
        let compactor = compaction ? Task {
            var count = 0
            while !Task.isCancelled {
                do {
                    if try await scheduler.compact() != nil { count += 1 } else { try await Task.sleep(for: .milliseconds(5)) }
                } catch is CancellationError {
                    break
                } catch {
                    FileHandle.standardError.write(Data("compaction failed: \(error)\n".utf8))
                    break
                }
            }
            return count
        } : nil
        var latencies: [Double] = []
        for number in 0..<enqueues {
            let event = Array("{\"type\":\"m.room.message\",\"content\":{\"n\":\(number),\"p\":\"\(padding())\"}}".utf8)
            let started = ContinuousClock.now
            _ = try await scheduler.enqueue(EventBatch(events: [event]), for: "up")
            latencies.append(EndToEnd.milliseconds(ContinuousClock.now - started))
        }
        compactor?.cancel()
        let compactions = await compactor?.value ?? 0
        try await scheduler.close()
        let sorted = latencies.sorted()
        return Result(p50: sorted[sorted.count / 2], p99: sorted[sorted.count * 99 / 100], compactions: compactions)
    }
}
