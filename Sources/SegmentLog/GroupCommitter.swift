import Dispatch
import Synchronization

/// Group commit: appenders add frames to a shared batch under a lock; one serial queue writes
/// each batch and, per the sync policy, syncs it, then acknowledges every appender it covered.
/// Appends that arrive during a write or sync wait in the next batch, so N concurrent appenders
/// share far fewer than N syncs.
///
/// A lone appender (the last batch held one append, nothing is being written) commits its batch
/// on its own thread instead, in ``PendingAppend/durable()``: the two thread hand-offs of the
/// queue (to the commit thread and back to the appender's) cost a fifth of a 4 KiB
/// overwrite+fdatasync on a VM. Concurrent appenders keep the queue, whose batches hold
/// everything that arrived during a sync; an appender committing on its own thread there would
/// take a batch of one while the others queue behind its sync.
final class GroupCommitter: @unchecked Sendable {
    // @unchecked: `writer` is touched only by the holder of `state.writerOwner` (the queue's
    // jobs, or one appender committing on its own thread); everything else shared is in `state`.
    private enum WriterOwner {
        case none
        /// A job on `queue`.
        case queue
        /// An appender committing on its own thread, in ``commitOnAppenderThread(_:)``.
        case appender
    }

    private struct State {
        var writerOwner = WriterOwner.none
        /// A queue job waits on `writerHandOff` for the appender committing on its own thread.
        var queueWaitsForWriter = false
        /// Consecutive batches committed that held one append, with nothing appended while
        /// they were written and synced. From ``loneCommitsMin`` on, the appender is taken to be
        /// alone and commits on its own thread.
        var loneCommits = GroupCommitter.loneCommitsMin
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

    /// How many lone commits in a row make an appender commit on its own thread. One is not
    /// enough: 64 appenders on a busy 2-thread pool often leave a single append to a sync, and
    /// the next appender committing at once would take a batch of one again, where the queue's
    /// hop gives the others time to join it (GroupCommitTests saw 829 syncs for 1280 appends).
    static let loneCommitsMin = 4
    /// Every this many lone commits, one still goes through the queue. An appender committing
    /// on its own thread never suspends, so on a pool whose other thread is busy, 64 appenders
    /// ran one after another, each append synced alone (1280 syncs for 1280 appends in
    /// GroupCommitTests); the hop lets the others run and join a batch. It costs a lone
    /// appender one hand-off in 16.
    static let loneCommitsPerQueueCommit = 16

    private let queue: any LogWorkQueue
    private let executor: any LogExecutor
    private let state: Mutex<State>
    private let writer: SegmentWriter
    private let policy: SyncPolicy
    private let onSync: (@Sendable (Duration) -> Void)?
    /// Whether an appender may commit on its own thread: only with real threads. The simulated
    /// executor runs every job on the submitting thread in one seeded order, which a commit
    /// outside its queue would escape.
    private let commitsOnAppenderThread: Bool
    /// Signalled when an appender committing on its own thread hands the writer to a waiting
    /// queue job.
    private let writerHandOff = DispatchSemaphore(value: 0)

    init(writer: SegmentWriter, policy: SyncPolicy, onSync: (@Sendable (Duration) -> Void)?,
         executor: any LogExecutor, lastPosition: LogPosition, nextPosition: LogPosition) {
        precondition(nextPosition > lastPosition)
        self.writer = writer
        self.policy = policy
        self.onSync = onSync
        self.executor = executor
        self.queue = executor.makeSerialQueue(label: "SegmentLog.commit")
        self.commitsOnAppenderThread = executor is ThreadedLogExecutor
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

    /// Adds `payloads` to the next batch as consecutive records, in call order. With
    /// `awaitedAtOnce` the caller awaits ``PendingAppend/durable()`` right away, which commits
    /// the batch or schedules its commit, so nothing is scheduled here.
    func submit(_ payloads: [PreparedPayload], awaitedAtOnce: Bool) throws(SegmentLogError) -> PendingAppend {
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
            let pending = PendingAppend(positions: first...state.batch.lastPosition!, committer: self)
            state.waiters.append(pending)
            // An appender committing on its own thread schedules a drain for what it leaves.
            if state.drainScheduled || state.writerOwner == .appender || (awaitedAtOnce && commitsOnAppenderThread) {
                return (pending, false)
            }
            state.drainScheduled = true
            return (pending, true)
        }
        // Dispatched after the lock is released, since a simulated executor runs the job at
        // once; a close() queued before it drains the batch first, so no taken append is lost.
        if startDrain { queue.async { self.drain() } }
        return pending
    }

    /// Called by ``PendingAppend/durable()`` for `pending` before it waits: commits the batch
    /// holding it on this thread when the appender is alone, otherwise makes sure a drain is
    /// scheduled for it. Returns once `pending` is finished, or at once.
    func commitOnAppenderThread(_ pending: PendingAppend) {
        enum Action { case commit(EncodedBatch, [PendingAppend]), scheduleDrain, nothing }
        let action = state.withLock { state -> Action in
            // Taken already: whoever took it finishes it.
            guard let queued = state.batch.frames.first?.position, pending.positions.lowerBound >= queued else { return .nothing }
            if commitsOnAppenderThread && state.writerOwner == .none
                && state.loneCommits >= Self.loneCommitsMin && state.loneCommits % Self.loneCommitsPerQueueCommit != 0
                && state.waiters.count == 1 {
                state.writerOwner = .appender
                let (batch, waiters) = Self.take(&state)
                return .commit(batch, waiters)
            }
            if state.drainScheduled || state.writerOwner == .appender { return .nothing }
            state.drainScheduled = true
            return .scheduleDrain
        }
        switch action {
        case .nothing: break
        case .scheduleDrain: queue.async { self.drain() }
        case .commit(let batch, let waiters):
            assert(waiters.contains { $0 === pending })
            commit(batch, waiters)
            releaseFromAppender()
        }
    }

    /// Gives the writer back after a commit on an appender's thread: to a queue job waiting for
    /// it, and schedules a drain for appends that arrived meanwhile.
    private func releaseFromAppender() {
        let (handOff, startDrain) = state.withLock { state -> (Bool, Bool) in
            assert(state.writerOwner == .appender)
            let handOff = state.queueWaitsForWriter
            state.queueWaitsForWriter = false
            state.writerOwner = handOff ? .queue : .none
            let startDrain = !state.batch.isEmpty && !state.drainScheduled
            if startDrain { state.drainScheduled = true }
            return (handOff, startDrain)
        }
        if handOff { writerHandOff.signal() }
        if startDrain { queue.async { self.drain() } }
    }

    /// On `queue`: takes the writer, waiting for an appender committing on its own thread.
    private func claimWriterOnQueue() {
        let wait = state.withLock { state in
            assert(state.writerOwner != .queue && !state.queueWaitsForWriter)
            if state.writerOwner == .appender {
                state.queueWaitsForWriter = true
                return true
            }
            state.writerOwner = .queue
            return false
        }
        // The appender hands over within one write and sync; this blocks the queue's thread only.
        if wait { writerHandOff.wait() }
        assert(state.withLock { $0.writerOwner == .queue })
    }

    private func releaseFromQueue() {
        state.withLock { state in
            assert(state.writerOwner == .queue)
            state.writerOwner = .none
        }
    }

    /// Runs `body` on `queue` holding the writer.
    private func withWriterOnQueue<T>(_ body: () throws -> T) rethrows -> T {
        claimWriterOnQueue()
        defer { releaseFromQueue() }
        return try body()
    }

    /// Runs on `queue` until no batch is left. An appender committing on its own thread
    /// schedules another drain when it is done, so this one need not wait for it.
    private func drain() {
        let claimed = state.withLock { state in
            if state.writerOwner == .appender {
                state.drainScheduled = false
                return false
            }
            assert(state.writerOwner == .none)
            state.writerOwner = .queue
            return true
        }
        guard claimed else { return }
        drainHoldingWriter()
        releaseFromQueue()
    }

    private func drainHoldingWriter() {
        while let (batch, waiters) = takeBatch() { commit(batch, waiters) }
    }

    /// Writes and syncs `batch`, then tells its appenders.
    private func commit(_ batch: EncodedBatch, _ waiters: [PendingAppend]) {
        precondition(!batch.isEmpty && !waiters.isEmpty)
        let result = Result { () throws(SegmentLogError) in try writeAndSync(batch) }
        // Cleared before the appenders hear back, so one that appends again at once finds the
        // log idle (``Compression/lz4WhileCommitting(thresholdBytes:)`` relies on it).
        state.withLock { state in
            state.committing = false
            state.loneCommits = waiters.count == 1 && state.batch.isEmpty ? state.loneCommits + 1 : 0
        }
        for waiter in waiters {
            assert(waiter.positions.upperBound <= batch.lastPosition!)
            waiter.finish(result)
        }
    }

    private func takeBatch() -> (EncodedBatch, [PendingAppend])? {
        state.withLock { state in
            guard !state.batch.isEmpty else {
                state.drainScheduled = false
                return nil
            }
            return Self.take(&state)
        }
    }

    private static func take(_ state: inout State) -> (EncodedBatch, [PendingAppend]) {
        precondition(!state.batch.isEmpty && !state.committing)
        defer {
            state.batch = EncodedBatch()
            state.waiters = []
            state.committing = true
        }
        return (state.batch, state.waiters)
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
                if !skip { self.withWriterOnQueue { self.scheduledSync() } }
            }
        }
        if syncNeeded { try syncNow() }
    }

    /// Forces an `fdatasync` of everything written so far, whatever the policy.
    func synchronize() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                continuation.resume(with: Result {
                    try self.withWriterOnQueue { try self.synchronizeHoldingWriter() }
                })
            }
        }
    }

    private func synchronizeHoldingWriter() throws {
        if let failure = state.withLock({ $0.failure }) { throw failure }
        if state.withLock({ $0.durablePosition >= $0.writtenPosition }) { return }
        do {
            try syncNow()
        } catch {
            state.withLock { $0.failure = .writerFailed(cause: "\(error)") }
            throw error
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
                continuation.resume(with: Result { try self.withWriterOnQueue { try self.sealHoldingWriter() } })
            }
        }
    }

    private func sealHoldingWriter() throws {
        // Frames still waiting in the batch go after the seal: the new segment starts at them.
        let (failure, next) = state.withLock { ($0.failure, $0.batch.frames.first?.position ?? $0.nextPosition) }
        if let failure { throw failure }
        do {
            try writer.sealIfNotEmpty(nextPosition: next)
        } catch {
            state.withLock { $0.failure = .writerFailed(cause: "\(error)") }
            throw error
        }
        publishWriterCounters()
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
                continuation.resume(with: Result {
                    try self.withWriterOnQueue {
                        // Appends taken before the close may have their drain queued after this job.
                        self.drainHoldingWriter()
                        try self.finishHoldingWriter()
                    }
                })
            }
        }
    }

    private func finishHoldingWriter() throws {
        if let failure = state.withLock({ $0.failure }) {
            writer.abandon()
            throw failure
        }
        do {
            try writer.finish()
        } catch {
            state.withLock { $0.failure = .writerFailed(cause: "\(error)") }
            throw error
        }
        state.withLock { $0.durablePosition = $0.writtenPosition }
    }
}
