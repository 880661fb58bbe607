import Synchronization

/// Group commit: appenders add frames to a shared batch under a lock; one serial queue writes
/// each batch and, per the sync policy, syncs it, then acknowledges every appender it covered.
/// Appends that arrive during a write or sync wait in the next batch, so N concurrent appenders
/// share far fewer than N syncs.
final class GroupCommitter: @unchecked Sendable {
    // @unchecked: `writer` is touched only on `queue`; everything else shared is in `state`.
    private struct State {
        var nextPosition: LogPosition
        var batch = EncodedBatch()
        var waiters: [PendingAppend] = []
        var drainScheduled = false
        /// A batch has been taken and is being written or synced; its appenders not yet told.
        var committing = false
        var syncScheduled = false
        var failure: SegmentLogError?
        var closed = false
        var writtenPosition: LogPosition
        var durablePosition: LogPosition
        /// When the last sync ran, on the executor's clock.
        var lastSync: Duration
        var statistics = LogStatistics()
        /// The segment appends go to; every segment before it is sealed.
        var activeSegmentId: UInt64
        /// How many fewer bytes the log holds than the writer wrote, after compactions.
        var bytesCompactedAway = 0
    }

    private let queue: any LogWorkQueue
    private let executor: any LogExecutor
    private let state: Mutex<State>
    private let writer: SegmentWriter
    private let policy: SyncPolicy
    private let onSync: (@Sendable (Duration) -> Void)?

    init(writer: SegmentWriter, policy: SyncPolicy, onSync: (@Sendable (Duration) -> Void)?,
         executor: any LogExecutor, lastPosition: LogPosition, nextPosition: LogPosition) {
        precondition(nextPosition > lastPosition)
        self.writer = writer
        self.policy = policy
        self.onSync = onSync
        self.executor = executor
        self.queue = executor.makeSerialQueue(label: "SegmentLog.commit")
        self.state = Mutex(State(nextPosition: nextPosition, writtenPosition: lastPosition,
                                 durablePosition: lastPosition, lastSync: executor.now(), activeSegmentId: writer.segmentId))
        state.withLock { $0.statistics.logBytes = writer.logBytes }
    }

    var writtenPosition: LogPosition { state.withLock { $0.writtenPosition } }
    var durablePosition: LogPosition { state.withLock { $0.durablePosition } }
    var statistics: LogStatistics { state.withLock { $0.statistics } }
    var activeSegmentId: UInt64 { state.withLock { $0.activeSegmentId } }
    /// Whether a batch is being written or synced: an append made now waits for it.
    var isCommitting: Bool { state.withLock { $0.committing } }

    /// Adds `payloads` to the next batch as consecutive records, in call order.
    func submit(_ payloads: [PreparedPayload]) throws(SegmentLogError) -> PendingAppend {
        precondition(!payloads.isEmpty)
        let (pending, startDrain) = try state.withLock { state throws(SegmentLogError) -> (PendingAppend, Bool) in
            if let failure = state.failure { throw failure }
            if state.closed { throw .closed }
            let first = state.nextPosition
            state.nextPosition = state.batch.append(payloads, from: first)
            for payload in payloads {
                state.statistics.appendedRecords += 1
                state.statistics.payloadBytes += payload.rawLength
                state.statistics.storedPayloadBytes += payload.stored.count
            }
            assert(state.batch.lastPosition!.next == state.nextPosition)
            let pending = PendingAppend(positions: first...state.batch.lastPosition!)
            state.waiters.append(pending)
            defer { state.drainScheduled = true }
            return (pending, !state.drainScheduled)
        }
        // Dispatched after the lock is released, since a simulated executor runs the job at
        // once; a close() queued before it drains the batch first, so no taken append is lost.
        if startDrain { queue.async { self.drain() } }
        return pending
    }

    /// Runs on `queue` until no batch is left.
    private func drain() {
        while let (batch, waiters) = takeBatch() {
            let result = Result { () throws(SegmentLogError) in try writeAndSync(batch) }
            // Cleared before the appenders hear back, so one that appends again at once finds the
            // log idle (``Compression/lz4WhileCommitting(thresholdBytes:)`` relies on it).
            state.withLock { $0.committing = false }
            for waiter in waiters {
                assert(waiter.positions.upperBound <= batch.lastPosition!)
                waiter.finish(result)
            }
        }
    }

    private func takeBatch() -> (EncodedBatch, [PendingAppend])? {
        state.withLock { state in
            guard !state.batch.isEmpty else {
                state.drainScheduled = false
                return nil
            }
            defer {
                state.batch = EncodedBatch()
                state.waiters = []
                state.committing = true
            }
            return (state.batch, state.waiters)
        }
    }

    private func writeAndSync(_ batch: EncodedBatch) throws(SegmentLogError) {
        if let failure = state.withLock({ $0.failure }) { throw failure }
        let last = batch.lastPosition!
        do {
            try writer.write(batch)
            state.withLock { $0.writtenPosition = last }
            switch policy {
            case .always: try syncNow()
            case .interval(let interval): try syncWithin(interval)
            case .never: break
            }
            publishWriterCounters()
        } catch {
            let failure = SegmentLogError.writerFailed(cause: "\(error)")
            state.withLock { $0.failure = failure }
            throw failure
        }
    }

    private func syncNow() throws {
        let written = state.withLock { $0.writtenPosition }
        let started = ContinuousClock.now
        try writer.sync()
        onSync?(ContinuousClock.now - started)
        let now = executor.now()
        state.withLock { state in
            state.durablePosition = written
            state.lastSync = now
        }
        publishWriterCounters()
    }

    /// Copies the writer's counters (touched only on `queue`) into the shared statistics.
    private func publishWriterCounters() {
        state.withLock { state in
            state.statistics.writes = writer.writes
            state.statistics.syncs = writer.syncs
            state.statistics.segmentsCreated = writer.segmentsCreated
            state.statistics.logBytes = writer.logBytes - state.bytesCompactedAway
            state.activeSegmentId = writer.segmentId
            assert(state.statistics.logBytes >= SegmentHeader.byteCount)
        }
    }

    /// Accounts for a compaction that replaced `bytesBefore` of sealed segments with `bytesAfter`.
    func compacted(bytesBefore: Int, bytesAfter: Int) {
        precondition(bytesBefore > 0 && bytesAfter >= SegmentHeader.byteCount)
        state.withLock { state in
            state.bytesCompactedAway += bytesBefore - bytesAfter
            state.statistics.logBytes -= bytesBefore - bytesAfter
            assert(state.statistics.logBytes >= SegmentHeader.byteCount)
        }
    }

    /// Syncs now if the last sync is an interval old; otherwise makes sure one is scheduled.
    private func syncWithin(_ interval: Duration) throws {
        // One reading of the clock decides both "sync now" and "schedule one", so a sync can
        // never be marked scheduled without being scheduled.
        let now = executor.now()
        let (syncNeeded, delay) = state.withLock { state -> (Bool, Duration?) in
            let due = state.lastSync + interval
            if due <= now { return (true, nil) }
            if state.syncScheduled { return (false, nil) }
            state.syncScheduled = true
            return (false, due - now)
        }
        if let delay {
            assert(delay > .zero)
            queue.async(after: delay) {
                let skip = self.state.withLock { state in
                    state.syncScheduled = false
                    return state.failure != nil || state.closed
                }
                if !skip { self.scheduledSync() }
            }
        }
        if syncNeeded { try syncNow() }
    }

    /// Forces an `fdatasync` of everything written so far, whatever the policy.
    func synchronize() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                continuation.resume(with: Result {
                    if let failure = self.state.withLock({ $0.failure }) { throw failure }
                    if self.state.withLock({ $0.durablePosition >= $0.writtenPosition }) { return }
                    do {
                        try self.syncNow()
                    } catch {
                        self.state.withLock { $0.failure = .writerFailed(cause: "\(error)") }
                        throw error
                    }
                })
            }
        }
    }

    private func scheduledSync() {
        do {
            try syncNow()
        } catch {
            state.withLock { $0.failure = .writerFailed(cause: "\(error)") }
        }
    }

    /// Seals the segment being appended to, after the writes already taken.
    func sealActiveSegment() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                continuation.resume(with: Result {
                    // Frames still waiting in the batch go after the seal: the new segment starts at them.
                    let (failure, next) = self.state.withLock { ($0.failure, $0.batch.frames.first?.position ?? $0.nextPosition) }
                    if let failure { throw failure }
                    do {
                        try self.writer.sealIfNotEmpty(nextPosition: next)
                    } catch {
                        self.state.withLock { $0.failure = .writerFailed(cause: "\(error)") }
                        throw error
                    }
                    self.publishWriterCounters()
                })
            }
        }
    }

    /// Rejects further appends, writes what is pending, syncs and closes the segment.
    func close() async throws {
        let alreadyClosed = state.withLock { state in
            defer { state.closed = true }
            return state.closed
        }
        guard !alreadyClosed else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                // Appends taken before the close may have their drain queued after this job.
                self.drain()
                continuation.resume(with: Result {
                    if let failure = self.state.withLock({ $0.failure }) {
                        self.writer.abandon()
                        throw failure
                    }
                    do {
                        try self.writer.finish()
                    } catch {
                        self.state.withLock { $0.failure = .writerFailed(cause: "\(error)") }
                        throw error
                    }
                    self.state.withLock { $0.durablePosition = $0.writtenPosition }
                })
            }
        }
    }
}
