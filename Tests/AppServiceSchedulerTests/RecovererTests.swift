import AppServiceScheduler
import AppServiceSchedulerTesting
import Testing

/// Synapse's recoverer scenarios: DOWN on failure, exponential backoff, reset, UP when drained.
@Suite struct RecovererTests {
    @Test func aFailedSendMarksDownAndStartsExactlyOneRecoverer() async throws {
        let harness = SchedulerHarness()
        harness.transport.script([.failed(reason: "HTTP 502")], for: "bridge")
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await watcher.next { $0 == .retryScheduled(service: "bridge", due: harness.clock.now + .seconds(2), delay: .seconds(2)) }
        let seen = await watcher.seen
        #expect(seen.filter { if case .down = $0 { true } else { false } }.count == 1)
        #expect(seen.contains(.failed(service: "bridge", transaction: 1, reason: "HTTP 502")))
        let state = await scheduler.snapshot.services["bridge"]!
        #expect(state.status == .down && state.backoffCounter == 1 && state.pending.map(\.id) == [1])
        try await scheduler.close()
    }

    @Test func aDownServiceStoresButDoesNotSend() async throws {
        let harness = SchedulerHarness()
        harness.transport.script([.failed(reason: "timeout")], for: "bridge")
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await watcher.next { $0 == .down(service: "bridge") }
        for number in 2...6 {
            _ = try await scheduler.enqueue(EventBatch(events: [event(number)]), for: "bridge")
        }
        #expect(harness.transport.attempts.count == 1)
        let state = await scheduler.snapshot.services["bridge"]!
        #expect(state.queued.count(.events) == 5 && state.pending.count == 1)
        #expect(try harness.records().filter { if case .enqueued = $0.1 { true } else { false } }.count == 6)
        try await scheduler.close()
    }

    @Test func recoveryOfOneTransactionAfterTwoSeconds() async throws {
        let harness = SchedulerHarness()
        harness.transport.script([.failed(reason: "refused")], for: "bridge")
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await watcher.next { if case .retryScheduled = $0 { true } else { false } }
        harness.clock.advance(by: .milliseconds(1999))
        #expect(harness.transport.attempts.count == 1)
        harness.clock.advance(by: .milliseconds(1))
        try await watcher.completed(1)
        try await watcher.next { $0 == .up(service: "bridge") }
        let attempts = harness.transport.attempts
        #expect(attempts.map(\.id) == [1, 1] && attempts.map(\.attempt) == [1, 2])
        #expect(attempts[0].body == attempts[1].body)
        try await scheduler.close()
    }

    @Test func retriesAfterTwoFourEightSixteenSecondsThenSuccess() async throws {
        let harness = SchedulerHarness()
        harness.transport.script(Array(repeating: .failed(reason: "HTTP 500"), count: 4), for: "bridge")
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        var delays: [Duration] = []
        for _ in 0..<4 {
            let scheduled = try await watcher.next { if case .retryScheduled = $0 { true } else { false } }
            guard case .retryScheduled(_, _, let delay) = scheduled else { return }
            delays.append(delay)
            harness.clock.advance(by: delay)
        }
        try await watcher.completed(1)
        try await watcher.next { $0 == .up(service: "bridge") }
        #expect(delays == [.seconds(2), .seconds(4), .seconds(8), .seconds(16)])
        #expect(Set(harness.transport.attempts.map(\.body)).count == 1)
        #expect(harness.transport.attempts.map(\.attempt) == [1, 2, 3, 4, 5])
        try await scheduler.close()
    }

    @Test func forceRetrySucceedsWithoutAdvancingTheClock() async throws {
        let harness = SchedulerHarness()
        harness.transport.script([.failed(reason: "HTTP 503")], for: "bridge")
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await watcher.next { if case .retryScheduled = $0 { true } else { false } }
        let before = harness.clock.now
        try await scheduler.forceRetry("bridge")
        try await watcher.completed(1)
        try await watcher.next { $0 == .up(service: "bridge") }
        #expect(harness.clock.now == before)
        #expect(try harness.records().contains { $0.1 == .forcedRetry(service: "bridge") })
        try await scheduler.close()
    }

    @Test func recoveryGoesStraightOnThroughPendingThenSendsTheQueueInFullTransactions() async throws {
        let harness = SchedulerHarness()
        harness.transport.script([.failed(reason: "HTTP 500")], for: "bridge")
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(0)]), for: "bridge")
        try await watcher.next { $0 == .down(service: "bridge") }
        for number in 1...250 {
            _ = try await scheduler.enqueue(EventBatch(events: [event(number)]), for: "bridge")
        }
        harness.clock.advance(by: .seconds(2))
        try await watcher.completed(4)
        let sizes = harness.transport.attempts.map { numbers(in: $0.body).count }
        #expect(sizes == [1, 1, 100, 100, 50])
        #expect(harness.transport.attempts.map(\.id) == [1, 1, 2, 3, 4])
        #expect(harness.transport.attempts.dropFirst().flatMap { numbers(in: $0.body) } == Array(0...250))
        try await scheduler.close()
    }

    @Test func backoffIsCappedAndResetsAfterSuccess() async throws {
        let policy = BackoffPolicy()
        #expect((1...12).map { policy.delay(forRetry: $0) }
                == [2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512, 512].map { Duration.seconds($0) })
        #expect(policy.delay(forRetry: 1000) == .seconds(512))

        let harness = SchedulerHarness()
        harness.transport.script([.failed(reason: "a"), .failed(reason: "b")], for: "bridge")
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.enqueue(EventBatch(events: [event(1)]), for: "bridge")
        try await watcher.next { if case .retryScheduled = $0 { true } else { false } }
        harness.clock.advance(by: .seconds(2))
        try await watcher.next { $0 == .retryScheduled(service: "bridge", due: harness.clock.now + .seconds(4), delay: .seconds(4)) }
        harness.clock.advance(by: .seconds(4))
        try await watcher.next { $0 == .up(service: "bridge") }
        #expect(await scheduler.snapshot.services["bridge"]!.backoffCounter == 0)

        harness.transport.script([.failed(reason: "c")], for: "bridge")
        _ = try await scheduler.enqueue(EventBatch(events: [event(2)]), for: "bridge")
        try await watcher.next { $0 == .retryScheduled(service: "bridge", due: harness.clock.now + .seconds(2), delay: .seconds(2)) }
        try await scheduler.close()
    }
}
