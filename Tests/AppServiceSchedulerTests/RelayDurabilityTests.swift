import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import Synchronization
import Testing

/// A retry is answered no sooner than the transaction it repeats is durable, and not at all
/// when that never becomes durable.
@Suite struct RelayDurabilityTests {
    /// The log, with every append's durability held until ``open()`` or ``fail()``.
    final class GatedStore: RecordStore {
        struct Append: DurableAppend {
            let inner: PendingAppend
            let gate: GatedStore
            var positions: ClosedRange<LogPosition> { inner.positions }
            func durable() async throws {
                try await gate.passed()
                try await inner.durable()
            }
        }

        struct GateFailure: Error {}

        private let log: SegmentLog
        private let state = Mutex<(open: Bool?, waiters: [CheckedContinuation<Bool, Never>])>((nil, []))

        init(_ log: SegmentLog) { self.log = log }

        func open() { settle(true) }
        func fail() { settle(false) }

        private func settle(_ opened: Bool) {
            let waiters = state.withLock { state in
                state.open = opened
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: opened) }
        }

        fileprivate func passed() async throws {
            let opened = await withCheckedContinuation { continuation in
                let settled = state.withLock { state -> Bool? in
                    if state.open == nil { state.waiters.append(continuation) }
                    return state.open
                }
                if let settled { continuation.resume(returning: settled) }
            }
            if !opened { throw GateFailure() }
        }

        func beginAppend(contentsOf entries: [LogEntry]) throws -> Append {
            Append(inner: try log.beginAppend(contentsOf: entries), gate: self)
        }
        func replay(_ apply: (LogRecord) throws -> Void) throws { try log.replay(apply) }
        func records(at positions: [LogPosition]) throws -> [LogRecord] { try log.records(at: positions) }
        func compact(before floor: LogPosition, keeping live: [LogPosition]) async throws -> CompactionReport? {
            try await log.compact(before: floor, keeping: live)
        }
        func sealActiveSegment() async throws { try await log.sealActiveSegment() }
        func synchronize() async throws { try await log.synchronize() }
        var syncPolicy: SyncPolicy { log.syncPolicy }
        var recordBytesMax: Int { log.recordBytesMax }
        var statistics: LogStatistics { log.statistics }
        var location: String { log.location }
        func availableBytes() throws -> Int { try log.availableBytes() }
        func close() async throws { try await log.close() }
    }

    static func transaction(age: Int) -> RelayedTransaction {
        RelayedTransaction(transactionID: "5", eventIDs: ["$a"],
                           items: EventBatch(events: [Array("{\"event_id\":\"$a\",\"unsigned\":{\"age\":\(age)}}".utf8)]))
    }

    /// Records what finished, in order.
    actor Finishes {
        private(set) var names: [String] = []
        func add(_ name: String) { names.append(name) }
    }

    static func scheduler(on store: GatedStore, harness: SchedulerHarness) async throws -> AppServiceScheduler {
        try await AppServiceScheduler.open(store: store, services: harness.services, transport: harness.transport,
                                           clock: harness.clock, configuration: harness.configuration)
    }

    @Test func aRetryOfATransactionOnItsWayToDiskWaitsForIt() async throws {
        let harness = SchedulerHarness(realDisk: true)
        let store = GatedStore(try SegmentLog.open(directory: harness.directory, configuration: harness.configuration.log))
        let scheduler = try await Self.scheduler(on: store, harness: harness)
        let finishes = Finishes()
        let original = Task { _ = try await scheduler.relay(Self.transaction(age: 0), for: "bridge"); await finishes.add("original") }
        let retry = Task {
            // The retry starts once the original's record is in the state (its window remembers the id).
            while await scheduler.snapshot.services["bridge"]?.relayWindow.digest(of: "5") == nil { await Task.yield() }
            let outcome = try await scheduler.relay(Self.transaction(age: 7), for: "bridge")
            await finishes.add("retry")
            return outcome
        }
        // Neither may answer before the gate opens.
        for _ in 0..<1_000 { await Task.yield() }
        #expect(await finishes.names.isEmpty, "answered before the record was durable")
        store.open()
        try await original.value
        #expect(try await retry.value == .duplicate)
        #expect(Set(await finishes.names) == ["original", "retry"])
        try await scheduler.close()
    }

    @Test func aRetryOfATransactionThatNeverReachedDiskFails() async throws {
        let harness = SchedulerHarness(realDisk: true)
        let store = GatedStore(try SegmentLog.open(directory: harness.directory, configuration: harness.configuration.log))
        let scheduler = try await Self.scheduler(on: store, harness: harness)
        let original = Task { try await scheduler.relay(Self.transaction(age: 0), for: "bridge") }
        let retry = Task {
            while await scheduler.snapshot.services["bridge"]?.relayWindow.digest(of: "5") == nil { await Task.yield() }
            return try await scheduler.relay(Self.transaction(age: 7), for: "bridge")
        }
        while await scheduler.snapshot.services["bridge"]?.relayWindow.digest(of: "5") == nil { await Task.yield() }
        store.fail()
        await #expect(throws: SchedulerError.self) { try await original.value }
        await #expect(throws: SchedulerError.self) { try await retry.value }
        #expect(await scheduler.failureDescription != nil)
        try? await scheduler.close()
    }
}
