/// What ``PostgresRecordStore/probe(timeout:)`` found in the store's database: whether the
/// database answers, and whether this store still holds the writer lease.
public enum PostgresLeaseProbe: Sendable, Equatable {
    /// The database answered and the lease is this store's: its writes are accepted.
    case holding
    /// The database answered and another store took the lease since: `holder` (its
    /// `asched_writer_lease.holder`, an instance name) writes now, at `epoch`; this store's
    /// writes are refused.
    case lost(holder: String, epoch: Int64)
    /// The database did not answer: the server is down, unreachable or refused the login.
    case unreachable(reason: String)
}
