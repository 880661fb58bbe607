import AppServiceScheduler
import AppServiceSchedulerTesting
import SegmentLog
import Testing

/// Services added, changed and removed while the scheduler runs (a reloaded configuration), and
/// a retired service's items purged.
@Suite struct ServiceLifecycleTests {
    @Test func anAddedServiceReceivesAndARemovedOneIsNeitherSentToNorRetried() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge"), ServiceDescriptor(id: "other")])
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        harness.transport.script([.failed(reason: "down")], for: "other")
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "other")
        try await watcher.next { $0 == .down(service: "other") }
        try await scheduler.reconfigure(services: [ServiceDescriptor(id: "bridge"), ServiceDescriptor(id: "late")])
        await #expect(throws: SchedulerError.unknownService("other")) {
            try await scheduler.enqueue(EventBatch(events: [event(2)]), for: "other")
        }
        _ = try await scheduler.enqueue(EventBatch(events: [event(3)]), for: "late")
        try await watcher.completed(1, service: "late")
        harness.clock.advance(by: .seconds(600))
        _ = try await scheduler.enqueue(EventBatch(events: [event(4)]), for: "bridge")
        try await watcher.completed(1, service: "bridge")
        #expect(harness.transport.attempts.filter { $0.service == "other" }.count == 1, "a removed service was retried")
        // Back in the configuration: its recoverer resumes with the same transaction.
        try await scheduler.reconfigure(services: [ServiceDescriptor(id: "bridge"), ServiceDescriptor(id: "other")])
        try await watcher.completed(1, service: "other")
        #expect(harness.transport.attempts.filter { $0.service == "other" }.map(\.id) == [1, 1])
        try await scheduler.close()
    }

    @Test func changedFlagsApplyToTheNextNewTransaction() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")])
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await watcher.completed(1)
        try await scheduler.reconfigure(services: [ServiceDescriptor(id: "bridge", receivesEphemeral: true)])
        _ = try await scheduler.enqueue(EventBatch(events: [event(2)], ephemeral: [event(3, kind: "m.typing")]), for: "bridge")
        try await watcher.completed(2)
        #expect(numbers(in: harness.transport.attempts[1].body, key: "ephemeral") == [3])
        try await scheduler.close()
    }

    @Test func aServiceIsNotPurgedWhileItsLastAttemptIsUnderWay() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")])
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        harness.transport.hold()
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await watcher.next { $0 == .sending(service: "bridge", transaction: 1, attempt: 1) }
        try await scheduler.reconfigure(services: [])
        await #expect(throws: SchedulerError.sendUnderWay("bridge")) { try await scheduler.purge("bridge") }
        harness.transport.releaseAll()
        try await watcher.completed(1)
        #expect(try await scheduler.purge("bridge")?.pendingTransactions == [])
        try await scheduler.close()
    }

    @Test func purgingARetiredServiceDropsItsItemsAndKeepsItsIds() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")], realDisk: true)
        var scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        harness.transport.script([.failed(reason: "gone")], for: "bridge")
        _ = try await scheduler.enqueue(EventBatch(events: [event(1), event(2)]), for: "bridge")
        try await watcher.next { $0 == .down(service: "bridge") }
        for number in 3...5 { _ = try await scheduler.enqueue(EventBatch(events: [event(number)]), for: "bridge") }
        await #expect(throws: SchedulerError.purgeOfConfiguredService("bridge")) { try await scheduler.purge("bridge") }
        try await scheduler.close()

        let offline = try await AppServiceScheduler.open(directory: harness.directory, services: [], transport: harness.transport,
                                                        clock: harness.clock, configuration: harness.configuration)
        let purge = try #require(try await offline.purge("bridge"))
        #expect(purge.pendingTransactions == [1] && purge.pendingItems == 2 && purge.queuedItems[.events] == 3)
        #expect(purge.nextTransactionID == 2)
        #expect(try await offline.purge("never-seen") == nil)
        _ = try #require(try await offline.compact())
        #expect(try harness.records().allSatisfy { if case .enqueued = $0.1 { false } else { true } },
                "compaction kept a purged service's items")
        try await offline.close()

        scheduler = try await harness.open()
        let back = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(6)]), for: "bridge")
        try await back.completed(2)
        #expect(harness.transport.attempts.last.map { ($0.id, numbers(in: $0.body)) }! == (2, [6]))
        try await scheduler.close()
    }
}

/// The scheduler on a store opened by its owner, through the record-store protocol alone.
@Suite struct RecordStoreOpeningTests {
    @Test func openingOnAStoreReplaysToTheSameStateAsOpeningTheDirectory() async throws {
        let harness = SchedulerHarness(realDisk: true)
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        harness.transport.script([.failed(reason: "down")], for: "bridge")
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await watcher.next { $0 == .down(service: "bridge") }
        _ = try await scheduler.relay(RelayedTransaction(transactionID: "9", eventIDs: ["$9"], items: EventBatch(events: [event(2)])),
                                      for: "bridge")
        _ = try await scheduler.compact()
        _ = try await scheduler.enqueue(EventBatch(events: [event(3)]), for: "bridge")
        let live = await scheduler.snapshot
        try await scheduler.close()

        let store = try SegmentLog.open(directory: harness.directory, configuration: harness.configuration.log)
        let reopened = try await AppServiceScheduler.open(store: store, services: [], transport: harness.transport,
                                                          clock: harness.clock, configuration: harness.configuration)
        #expect(await reopened.snapshot == live)
        let items = try await reopened.queuedAndPendingItems()["bridge"] ?? []
        // The queue first (2 relayed, 3 enqueued), then the pending transaction (1).
        #expect(items.flatMap { $0.events.compactMap(DeliveryCheck.number(of:)) } == [2, 3, 1])
        try await reopened.close()
    }
}
