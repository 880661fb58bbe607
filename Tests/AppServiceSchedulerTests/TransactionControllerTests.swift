import AppServiceScheduler
import AppServiceSchedulerTesting
import Testing

/// Synapse's scheduler scenarios for the transaction controller, against this API.
@Suite struct TransactionControllerTests {
    @Test(arguments: [false, true])
    func transactionToAnUpServiceCompletesWithoutARecoverer(realDisk: Bool) async throws {
        let harness = SchedulerHarness(realDisk: realDisk)
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await watcher.completed(1)
        #expect(harness.transport.attempts.map(\.id) == [1])
        #expect(numbers(in: harness.transport.attempts[0].body) == [1])
        #expect(await !watcher.seen.contains { if case .down = $0 { true } else { false } })
        #expect(harness.clock.sleeperCount == 0)
        let state = await scheduler.snapshot.services["bridge"]!
        #expect(state.status == .up && state.pending.isEmpty && state.lastCompletedTransactionID == 1)
        try await scheduler.close()
    }

    @Test func aSingleEventIsSentAtOnceWithItsIdAndBody() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")])
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(7)]), for: "bridge")
        try await watcher.completed(1)
        let attempt = try #require(harness.transport.attempts.first)
        #expect(attempt.service == "bridge" && attempt.id == 1 && attempt.attempt == 1)
        #expect(attempt.body == Array(#"{"events":[{"type":"m.room.message","content":{"n":7}}]}"#.utf8))
        try await scheduler.close()
    }

    @Test func eventsArrivingWhileASendIsInFlightGoOutTogetherNext() async throws {
        let harness = SchedulerHarness()
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        harness.transport.hold()
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await watcher.next { $0 == .sending(service: "bridge", transaction: 1, attempt: 1) }
        _ = try await scheduler.enqueue(EventBatch(events: [event(2)]), for: "bridge")
        _ = try await scheduler.enqueue(EventBatch(events: [event(3)], ephemeral: [event(4, kind: "m.typing")]), for: "bridge")
        harness.transport.releaseAll()
        try await watcher.completed(2)
        let bodies = harness.transport.attempts.map(\.body)
        #expect(bodies.map { numbers(in: $0) } == [[1], [2, 3]])
        #expect(numbers(in: bodies[1], key: "ephemeral") == [4])
        try await scheduler.close()
    }

    @Test func twoHundredEventsWhileSendsBlockGoOutAsOneHundredAndNinetyNine() async throws {
        let harness = SchedulerHarness()
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        harness.transport.hold()
        for number in 1...200 {
            _ = try await scheduler.enqueue(EventBatch(events: [event(number)]), for: "bridge")
        }
        harness.transport.releaseAll()
        try await watcher.completed(3)
        let sizes = harness.transport.attempts.map { numbers(in: $0.body).count }
        #expect(sizes == [1, 100, 99])
        #expect(harness.transport.attempts.flatMap { numbers(in: $0.body) } == Array(1...200))
        try await scheduler.close()
    }

    @Test func oneHundredFiftyEphemeralAtOnceGoOutAsOneHundredThenFifty() async throws {
        let harness = SchedulerHarness()
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        let ephemeral = (1...150).map { event($0, kind: "m.receipt") }
        _ = try await scheduler.enqueue(EventBatch(ephemeral: ephemeral), for: "bridge")
        try await watcher.completed(2)
        #expect(harness.transport.attempts.map { numbers(in: $0.body, key: "ephemeral").count } == [100, 50])
        try await scheduler.close()
    }

    @Test func ephemeralEventsAreBatchedWhileASendIsInFlight() async throws {
        let harness = SchedulerHarness()
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        harness.transport.hold()
        _ = try await scheduler.enqueue(EventBatch(ephemeral: [event(1, kind: "m.typing")]), for: "bridge")
        try await watcher.next { $0 == .sending(service: "bridge", transaction: 1, attempt: 1) }
        for number in 2...5 {
            _ = try await scheduler.enqueue(EventBatch(ephemeral: [event(number, kind: "m.typing")]), for: "bridge")
        }
        harness.transport.releaseAll()
        try await watcher.completed(2)
        #expect(harness.transport.attempts.map { numbers(in: $0.body, key: "ephemeral") } == [[1], [2, 3, 4, 5]])
        try await scheduler.close()
    }

    @Test func twoServicesDoNotBlockEachOther() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "slow"), ServiceDescriptor(id: "fast")])
        harness.transport.script([.failed(reason: "HTTP 500")], for: "slow")
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "slow")
        try await watcher.next { $0 == .down(service: "slow") }
        for number in 2...4 {
            _ = try await scheduler.enqueue(EventBatch(events: [event(number)]), for: "fast")
            try await watcher.completed(UInt64(number - 1), service: "fast")
        }
        #expect(await scheduler.snapshot.services["slow"]?.status == .down)
        try await scheduler.close()
    }

    @Test func severalServicesAreEnqueuedInOneWriteOrNotAtAll() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "a"), ServiceDescriptor(id: "b")])
        let scheduler = try await harness.open()
        await #expect(throws: SchedulerError.unknownService("c")) {
            try await scheduler.enqueue(["a": EventBatch(events: [event(1)]), "c": EventBatch(events: [event(2)])])
        }
        #expect(try harness.records().isEmpty, "a refused batch wrote something")
        let last = try await scheduler.enqueue(["a": EventBatch(events: [event(1)]), "b": EventBatch(events: [event(2)])])
        let enqueued = try harness.records().filter { if case .enqueued = $0.1 { true } else { false } }
        #expect(enqueued.map(\.1.service) == ["a", "b"])
        #expect(enqueued.map(\.0.rawValue) == [enqueued[0].0.rawValue, enqueued[0].0.rawValue + 1] && enqueued[1].0 == last)
        try await scheduler.close()
    }

    @Test func anOversizedBatchIsRefusedAndTheSchedulerGoesOn() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")])
        var configuration = harness.configuration
        configuration.log.recordBytesMax = 1000
        let scheduler = try await SchedulerHarness(copying: harness, configuration: configuration).open()
        let big = (0..<50).map { event($0) }
        let error = await #expect(throws: SchedulerError.self) { try await scheduler.enqueue(EventBatch(events: big), for: "bridge") }
        guard case .batchTooLarge(let service, let bytes, let max) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(service == "bridge" && bytes > max && max == 1000)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        #expect(await scheduler.failureDescription == nil)
        try await scheduler.close()
    }

    @Test func anOversizedBatchAmongSeveralServicesNamesItsOwnService() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "a"), ServiceDescriptor(id: "b"),
                                                  ServiceDescriptor(id: "c")])
        var configuration = harness.configuration
        configuration.log.recordBytesMax = 1000
        let scheduler = try await SchedulerHarness(copying: harness, configuration: configuration).open()
        let big = EventBatch(events: (0..<50).map { event($0) })
        let small = EventBatch(events: [event(1)])
        let error = await #expect(throws: SchedulerError.self) {
            try await scheduler.enqueue(["a": small, "b": big, "c": small])
        }
        guard case .batchTooLarge(let service, _, _) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(service == "b")
        #expect(try harness.records().isEmpty, "a refused batch wrote something")
        try await scheduler.close()
    }

    @Test func unknownServiceAndBadItemsAreRefusedAndNothingIsWritten() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")])
        let scheduler = try await harness.open()
        await #expect(throws: SchedulerError.unknownService("nope")) {
            try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "nope")
        }
        await #expect(throws: SchedulerError.kindNotAccepted(service: "bridge", kind: "ephemeral events")) {
            try await scheduler.enqueue(EventBatch(ephemeral: [event(1)]), for: "bridge")
        }
        await #expect(throws: SchedulerError.emptyBatch(service: "bridge")) {
            try await scheduler.enqueue(EventBatch(), for: "bridge")
        }
        let notJSON = await #expect(throws: SchedulerError.self) {
            try await scheduler.enqueue(EventBatch(events: [event(1), Array("{oops".utf8)]), for: "bridge")
        }
        guard case .invalidItem(let service, let kind, let index, _) = notJSON else {
            Issue.record("unexpected \(String(describing: notJSON))")
            return
        }
        #expect(service == "bridge" && kind == "events" && index == 1)
        await #expect(throws: SchedulerError.self) {
            try await scheduler.enqueue(EventBatch(events: [Array("[1,2]".utf8)]), for: "bridge")
        }
        #expect(try harness.records().isEmpty)
        try await scheduler.close()
    }
}

extension TransactionControllerTests {
    /// A catch-up costs one sync per transaction: the records completing one transaction,
    /// creating the next and starting its send go to the log in one append.
    @Test func aDrainingBacklogCostsOneSyncPerTransaction() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")], realDisk: true)
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        harness.transport.script([.failed(reason: "down")], for: "bridge")
        _ = try await scheduler.enqueue(EventBatch(events: [event(0)]), for: "bridge")
        try await watcher.next { $0 == .down(service: "bridge") }
        for batch in 0..<20 { _ = try await scheduler.enqueue(EventBatch(events: (1...100).map { event(batch * 100 + $0) }), for: "bridge") }
        let syncsBefore = await scheduler.logStatistics.syncs
        try await scheduler.forceRetry("bridge")
        try await watcher.completed(21)
        let syncs = await scheduler.logStatistics.syncs - syncsBefore
        // 21 transactions: the retried one, then 20 of 100 events. Besides one per transaction, a
        // few for the forced retry, marking the service UP and the compaction after the drain;
        // two per transaction (the completion, then the next send's records) would be 42 or more.
        #expect(syncs <= 32, "\(syncs) syncs for 21 transactions")
        try await scheduler.close()
    }
}
