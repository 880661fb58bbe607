import Synchronization

/// An append whose positions are assigned but which may not be durable yet, from
/// ``SegmentLog/beginAppend(contentsOf:)``.
///
/// Positions are assigned in the order `beginAppend` is called, so a caller that must keep its
/// own state in log order (an actor folding the records it writes) submits synchronously and
/// awaits durability afterwards, before acting on the outside world.
///
/// ```swift
/// let pending = try log.beginAppend(contentsOf: [LogEntry(type: 1, payload: bytes)])
/// state.apply(record, at: pending.positions.lowerBound)   // in log order
/// try await pending.durable()                              // before telling anyone
/// ```
public final class PendingAppend: Sendable {
    private enum Outcome {
        case waiting([CheckedContinuation<Void, any Error>])
        case finished(Result<Void, SegmentLogError>)
    }

    /// The positions of the appended records, in order.
    public let positions: ClosedRange<LogPosition>
    private let outcome = Mutex(Outcome.waiting([]))
    /// Commits the batch holding these records on the awaiting thread when the log has a lone
    /// appender.
    private let committer: GroupCommitter

    init(positions: ClosedRange<LogPosition>, committer: GroupCommitter) {
        precondition(positions.lowerBound.rawValue > 0)
        self.positions = positions
        self.committer = committer
    }

    private var result: Result<Void, SegmentLogError>? {
        outcome.withLock { outcome in
            if case .finished(let result) = outcome { return result }
            return nil
        }
    }

    /// Returns once the records are durable per the log's ``SyncPolicy``; throws
    /// ``SegmentLogError/writerFailed(cause:)`` if the write or sync failed. Not cancellable:
    /// the write happens either way.
    ///
    /// When the log has a lone appender (its last commits each held one append, nothing else
    /// appended meanwhile), the write and `fdatasync` run here, on the caller's thread, which
    /// they block for their duration (about 100 µs on an SSD-backed VM); concurrent appenders'
    /// batches are committed on the log's own thread.
    public func durable() async throws {
        if result == nil { committer.commitOnAppenderThread(self) }
        // Committed on this thread: no continuation, no hop back to the caller's executor.
        if let result { return try result.get() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let result = outcome.withLock { outcome -> Result<Void, SegmentLogError>? in
                switch outcome {
                case .waiting(var continuations):
                    continuations.append(continuation)
                    outcome = .waiting(continuations)
                    return nil
                case .finished(let result):
                    return result
                }
            }
            if let result { continuation.resume(with: result) }
        }
    }

    /// Called once, by the group committer, when the batch holding these records is done.
    func finish(_ result: Result<Void, SegmentLogError>) {
        let waiting = outcome.withLock { outcome -> [CheckedContinuation<Void, any Error>] in
            guard case .waiting(let continuations) = outcome else {
                preconditionFailure("an append finished twice")
            }
            outcome = .finished(result)
            return continuations
        }
        for continuation in waiting { continuation.resume(with: result) }
    }
}
