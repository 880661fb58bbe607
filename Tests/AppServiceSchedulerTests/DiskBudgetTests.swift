import AppServiceScheduler
import AppServiceSchedulerTesting
import SegmentLog
import Testing

/// An outage can fill the disk: past the log's budget, or under the device's free-space floor,
/// new items are refused (retryably) while delivery goes on, instead of the scheduler stopping.
@Suite struct DiskBudgetTests {
    @Test func pastTheBudgetNewItemsAreRefusedDeliveryGoesOnAndCompactionMakesRoom() async throws {
        var harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")])
        var configuration = harness.configuration
        configuration.log.segmentSizeBytes = 4 << 10
        configuration.compactAfterSealedSegments = 1000
        configuration.logBytesMax = 32 << 10
        harness = SchedulerHarness(copying: harness, configuration: configuration)
        harness.transport.script([.failed(reason: "HTTP 502")], for: "bridge")
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        let batch = EventBatch(events: (0..<10).map { event($0) })
        var refusal: SchedulerError?
        for _ in 0..<1000 {
            do {
                _ = try await scheduler.enqueue(batch, for: "bridge")
            } catch let error as SchedulerError {
                refusal = error
                break
            }
        }
        guard case .logBudgetExceeded(let logBytes, let budgetBytes) = refusal else {
            Issue.record("expected the budget to refuse an enqueue, got \(String(describing: refusal))")
            return
        }
        #expect(budgetBytes == 32 << 10 && logBytes >= budgetBytes)
        #expect(refusal!.description.contains("budget of \(32 << 10) bytes"))
        let recordsAtRefusal = try harness.records().count
        await #expect(throws: SchedulerError.self) { try await scheduler.enqueue(batch, for: "bridge") }
        #expect(try harness.records().count == recordsAtRefusal, "a refused enqueue wrote something")
        #expect(await scheduler.failureDescription == nil, "the budget stopped the scheduler")

        let transactions = await scheduler.snapshot.services["bridge"]!.nextTransactionID - 1
            + UInt64((await scheduler.snapshot.services["bridge"]!.queued.count + 99) / 100)
        try await scheduler.forceRetry("bridge")
        try await watcher.occurred(.completed(service: "bridge", transaction: transactions))
        let drained = await scheduler.snapshot.services["bridge"]!
        #expect(drained.queued.isEmpty && drained.pending.isEmpty)
        // A delivered backlog is compacted away without waiting for more segments to be sealed.
        try await watcher.next { if case .compacted = $0 { true } else { false } }
        let recordsLeft = try harness.records().count
        #expect(await scheduler.logStatistics.logBytes < 32 << 10, "after the compaction: \(recordsLeft) records")
        _ = try await scheduler.enqueue(batch, for: "bridge")
        try await scheduler.close()
    }

    @Test func underTheFreeSpaceFloorNewItemsAreRefusedNamingTheDirectory() async throws {
        var harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")], realDisk: true)
        var configuration = harness.configuration
        configuration.availableBytesMin = 1 << 62
        harness = SchedulerHarness(copying: harness, configuration: configuration)
        let scheduler = try await harness.open()
        let error = await #expect(throws: SchedulerError.self) {
            try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        }
        guard case .diskSpaceLow(let available, let floor, let directory) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(available < floor && floor == 1 << 62 && directory == harness.directory)
        #expect(try harness.records().isEmpty)
        #expect(await scheduler.failureDescription == nil)
        try await scheduler.close()
    }
}
