import AppServiceScheduler
import PostgresNIO
import SegmentLog

/// Records a ``PostgresRecordStore`` has given positions to; ``durable()`` returns once the SQL
/// transaction holding them has committed (with `synchronous_commit` on: the commit is on the
/// server's disk).
public struct PostgresAppend: DurableAppend {
    public let positions: ClosedRange<LogPosition>
    let committed: EventLoopFuture<Void>

    public func durable() async throws {
        try await committed.get()
    }
}
