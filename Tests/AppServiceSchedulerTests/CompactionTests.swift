import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import SegmentLogTesting
import Testing

/// Compaction keeps the log to what is pending and never changes what a replay gives.
@Suite struct CompactionTests {
    static func fold(_ harness: SchedulerHarness) throws -> SchedulerState {
        try fold(try harness.records(), from: try floor(harness))
    }

    /// Records below the log's replay floor are history a compaction summarized: a replay skips them.
    static func fold(_ records: [(LogPosition, SchedulerRecord)], from floor: LogPosition) throws -> SchedulerState {
        var state = SchedulerState()
        for (position, record) in records where position >= floor { try state.apply(record, at: position) }
        return state
    }

    static func floor(_ harness: SchedulerHarness) throws -> LogPosition {
        try LogReader(directory: harness.directory, fileSystem: harness.fileSystem).replayFloor
    }

    static func smallSegments(_ harness: inout SchedulerHarness, compactAfter: Int?) {
        var configuration = harness.configuration
        configuration.log.segmentSizeBytes = 1024
        configuration.compactAfterSealedSegments = compactAfter
        harness = SchedulerHarness(copying: harness, configuration: configuration)
    }

    /// Sends go on in the background, so states are compared at log positions: the live
    /// state after the last record in the log against the fold of the (compacted) log.
    @Test(arguments: 0..<10)
    func stateIsTheSameBeforeAndAfterCompactionAndAfterReopen(seed: UInt64) async throws {
        let live = ReplayDeterminismTests.StateRecorder()
        var harness = SchedulerHarness(services: ReplayDeterminismTests.services,
                                       limits: TransactionLimits(eventsMax: 3, ephemeralMax: 2, toDeviceMax: 2),
                                       onRecordApplied: live.record)
        Self.smallSegments(&harness, compactAfter: nil)
        let scheduler = try await harness.open()
        try await ReplayDeterminismTests.runWorkload(seed: seed, harness: harness, scheduler: scheduler)
        let recordsBefore = try harness.records()
        let report = try #require(try await scheduler.compact(), "seed \(seed): nothing compacted")
        // Whether a segment is rewritten depends on how much of it the workload left queued (sends
        // go on in the background); that it was looked at, and nothing grew, does not.
        #expect(report.recordsAfter <= report.recordsBefore && report.segmentsReplaced + report.segmentsKept >= 1)
        let recordsAfter = try harness.records()
        let floor = try Self.floor(harness)
        #expect(recordsBefore.contains { $0.0 < floor } && report.floor == floor, "seed \(seed): floor \(floor)")
        _ = try await scheduler.queuedAndPendingItems()
        let liveAtEnd = live.states.withLock { states in states.last { $0.0 == recordsAfter.last!.0 }!.1 }
        // The records read once: sends go on, and a second read could see more of them.
        let folded = try Self.fold(recordsAfter, from: floor)
        let difference = "\(folded.services.sorted { $0.key < $1.key }) != \(liveAtEnd.services.sorted { $0.key < $1.key })"
        #expect(folded == liveAtEnd, "seed \(seed): the compacted log folds to another state at \(recordsAfter.last!.0): \(difference); floor \(floor)")
        let lastBefore = recordsBefore.last!.0
        let kept = Dictionary(uniqueKeysWithValues: recordsAfter.map { ($0.0, $0.1) })
        for (position, record) in recordsBefore where kept[position] != nil {
            #expect(kept[position] == record, "seed \(seed): the record at \(position) changed")
        }
        #expect(recordsAfter.map(\.0).filter { $0 >= floor && $0 <= lastBefore } == recordsBefore.map(\.0).filter { $0 >= floor },
                "seed \(seed): records at or after the floor changed")
        try await scheduler.close()
        let before = try #require(live.states.withLock { $0.last?.1 })

        let lastPosition = try #require(live.states.withLock { $0.last?.0 })
        let replayed = ReplayDeterminismTests.StateRecorder()
        var reopenConfiguration = harness.configuration
        reopenConfiguration.onRecordApplied = replayed.record
        let reopened = try await SchedulerHarness(copying: harness, configuration: reopenConfiguration).open()
        let atReopen = replayed.states.withLock { states in states.last { $0.0 == lastPosition }?.1 }
        #expect(atReopen == before, "seed \(seed): reopening folds to another state")
        _ = try await reopened.enqueue(EventBatch(events: [event(999)]), for: "irc")
        let irc = await reopened.snapshot.services["irc"]!
        #expect(irc.nextTransactionID >= before.services["irc"]?.nextTransactionID ?? 1)
        try await reopened.close()
    }

    @Test(arguments: 0..<6)
    func automaticCompactionWhileAppendsContinue(seed: UInt64) async throws {
        let live = ReplayDeterminismTests.StateRecorder()
        var harness = SchedulerHarness(services: ReplayDeterminismTests.services,
                                       limits: TransactionLimits(eventsMax: 3, ephemeralMax: 2, toDeviceMax: 2),
                                       onRecordApplied: live.record)
        Self.smallSegments(&harness, compactAfter: 2)
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        try await ReplayDeterminismTests.runWorkload(seed: seed, harness: harness, scheduler: scheduler)
        try await ReplayDeterminismTests.runWorkload(seed: seed + 100, harness: harness, scheduler: scheduler)
        try await watcher.next { if case .compacted = $0 { true } else { false } }
        try await scheduler.close()
        let last = try #require(live.states.withLock { $0.last })
        #expect(try Self.fold(harness) == last.1, "seed \(seed)")
    }

    /// The power fails before each disk operation of an offline compaction in turn; every
    /// time, the reopened log folds to the state it had before.
    @Test(arguments: 0..<3)
    func crashAtEveryStepOfCompactionLeavesTheSameState(seed: UInt64) async throws {
        var harness = SchedulerHarness(services: ReplayDeterminismTests.services,
                                       limits: TransactionLimits(eventsMax: 3, ephemeralMax: 2, toDeviceMax: 2))
        Self.smallSegments(&harness, compactAfter: nil)
        let scheduler = try await harness.open()
        try await ReplayDeterminismTests.runWorkload(seed: seed, harness: harness, scheduler: scheduler)
        try await scheduler.close()
        try await Self.expectEveryCrashOfCompactionLeavesTheState(of: harness, "seed \(seed)")
    }

    /// A queue of more runs than one checkpoint record holds: its checkpoint spans several
    /// records (and writes), and a crash between them must leave the whole queue, not its head.
    @Test func crashAtEveryStepOfCompactingALongQueueLeavesTheWholeQueue() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")])
        let log = try SegmentLog.open(directory: harness.directory, configuration: harness.configuration.log)
        let records = (0...SchedulerCheckpoint.runsPerRecordMax).map {
            SchedulerRecord.enqueued(service: "bridge", items: EventBatch(events: [event($0)]), at: .epoch).logEntry
        }
        try await log.beginAppend(contentsOf: records).durable()
        try await log.close()
        try await Self.expectEveryCrashOfCompactionLeavesTheState(of: harness, "a queue of \(records.count) runs")
    }

    /// Crashes an offline compaction of `harness`'s log before each of its disk operations in
    /// turn; after each, the reopened log folds to the state it had before, and every queued and
    /// pending item reads back.
    static func expectEveryCrashOfCompactionLeavesTheState(of harness: SchedulerHarness, _ label: String) async throws {
        let expected = try Self.fold(harness)
        let original = try #require(harness.fileSystem as? SimulatedFileSystem)

        var step = 0
        var completed = false
        while !completed {
            let disk = original.clone()
            disk.inject(.crash(after: step, seed: UInt64(step)))
            let survivor = SchedulerHarness(copying: harness, configuration: {
                var copy = harness.configuration
                copy.log.fileSystem = disk
                return copy
            }())
            // Offline, as `asched compact` runs it: no service to send to, so only compaction writes.
            let offline = try? await AppServiceScheduler.open(directory: harness.directory, services: [], transport: harness.transport,
                                                              clock: harness.clock, configuration: survivor.configuration)
            _ = try? await offline?.compact()
            try? await offline?.close()
            completed = !disk.disarmFaults().isEmpty
            let reopened = try await AppServiceScheduler.open(directory: harness.directory, services: [], transport: harness.transport,
                                                              clock: harness.clock, configuration: survivor.configuration)
            #expect(await reopened.snapshot == expected, "\(label): crash before disk operation \(step)")
            _ = try await reopened.queuedAndPendingItems()
            try await reopened.close()
            #expect(try Self.fold(survivor) == expected, "\(label): crash before disk operation \(step)")
            step += 1
            try #require(step < 500, "compaction never completed")
        }
        #expect(step > 10, "the crash points cover the compaction's steps")
    }

    /// 100,000 events delivered with automatic compaction: the directory stays within a fixed
    /// multiple of the segment size, not the size of its history.
    @Test func directoryStaysBoundedUnderSteadyLoad() async throws {
        let segmentSizeBytes = 64 << 10
        var harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")], realDisk: true)
        var configuration = harness.configuration
        configuration.log.segmentSizeBytes = segmentSizeBytes
        // As the daemon's log: every record compressed, not only those appended during a commit
        // (this test's lone appender would store every record as given, 1.6x the bytes).
        configuration.log.compression = .lz4(thresholdBytes: 128)
        configuration.compactAfterSealedSegments = 4
        harness = SchedulerHarness(copying: harness, configuration: configuration)
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        var largest = 0
        var written = 0
        for batch in 0..<1000 {
            let events = (0..<100).map { event(batch * 100 + $0) }
            _ = try await scheduler.enqueue(EventBatch(events: events), for: "bridge")
            written += events.reduce(0) { $0 + $1.count }
            if batch % 20 == 0 { largest = max(largest, try Self.directoryBytes(harness.directory)) }
        }
        try await watcher.occurred(.completed(service: "bridge", transaction: 1000))
        try await scheduler.compact()
        let final = try Self.directoryBytes(harness.directory)
        try await scheduler.close()
        #expect(written > 40 * segmentSizeBytes, "the history is much larger than the bound")
        #expect(largest < 16 * segmentSizeBytes, "largest directory \(largest) bytes")
        #expect(final < 2 * segmentSizeBytes, "after draining: \(final) bytes")
    }

    static func directoryBytes(_ path: String) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: path).reduce(0) { total, name in
            // A segment compaction deletes between the listing and this look is simply gone.
            total + (((try? FileManager.default.attributesOfItem(atPath: path + "/" + name))?[.size] as? Int) ?? 0)
        }
    }
}

extension CompactionTests {
    /// A backlog whose drain seals no segment (after a compaction during the outage) is still
    /// compacted away once delivered: the drain, not a count of new segments, makes it due.
    @Test func aDeliveredBacklogIsCompactedWithoutANewSealedSegment() async throws {
        var harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge")], realDisk: true)
        var configuration = harness.configuration
        configuration.compactAfterSealedSegments = 1_000
        configuration.log.segmentSizeBytes = 4 << 10
        harness = SchedulerHarness(copying: harness, configuration: configuration)
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        harness.transport.script([.failed(reason: "down")], for: "bridge")
        _ = try await scheduler.enqueue(EventBatch(events: [event(0)]), for: "bridge")
        try await watcher.next { $0 == .down(service: "bridge") }
        for batch in 1...30 { _ = try await scheduler.enqueue(EventBatch(events: (0..<10).map { event(batch * 10 + $0) }), for: "bridge") }
        // Keeps the backlog (all of it is live) and leaves no sealed segment since.
        _ = try #require(try await scheduler.compact())
        try await watcher.next { if case .compacted = $0 { true } else { false } }
        let sealedBefore = await scheduler.logStatistics.segmentsCreated
        try await scheduler.forceRetry("bridge")
        try await watcher.next { if case .compacted = $0 { true } else { false } }
        #expect(await scheduler.logStatistics.segmentsCreated - sealedBefore <= 1, "the drain itself sealed segments")
        #expect(await scheduler.snapshot.services["bridge"]!.queued.isEmpty)
        try await scheduler.close()
        #expect(try harness.records().allSatisfy { if case .enqueued = $0.1 { false } else { true } },
                "the delivered backlog's records are still in the log")
    }
}

extension CompactionTests {
    /// A checkpoint of a long queue spans several records; a log cut inside it (a crash between
    /// two of its writes) and then continued replays to the state before it, not to a queue cut short.
    @Test func aCheckpointCutShortLeavesTheStateBeforeIt() throws {
        var state = SchedulerState()
        var position: UInt64 = 0
        func apply(_ record: SchedulerRecord, to state: inout SchedulerState) throws {
            position += 1
            try state.apply(record, at: LogPosition(rawValue: position))
        }
        for number in 0..<(SchedulerCheckpoint.runsPerRecordMax + 10) {
            try apply(.enqueued(service: "bridge", items: EventBatch(events: [event(number)]), at: .epoch), to: &state)
        }
        let records = Array(SchedulerCheckpoint(of: state).records)
        try #require(records.count == 2, "the queue needs a queueContinued record")

        var whole = state
        for record in records { try apply(record, to: &whole) }
        #expect(whole.services == state.services)

        var cut = state
        try apply(records[0], to: &cut)
        let later = SchedulerRecord.enqueued(service: "bridge", items: EventBatch(events: [event(-1)]), at: .epoch)
        try apply(later, to: &cut)
        var expected = state
        try expected.apply(later, at: LogPosition(rawValue: position))
        #expect(cut.services["bridge"]!.queued.count == SchedulerCheckpoint.runsPerRecordMax + 11)
        #expect(cut.services == expected.services)
    }
}
