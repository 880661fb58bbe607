/// What ``PostgresRecordStore/probe(timeout:)`` found in the store's database: whether the
/// database answers, and whether this store still holds the writer lease (or every lease of
/// its services).
public enum PostgresLeaseProbe: Sendable, Equatable {
    /// The database answered and the lease is this store's: its writes are accepted.
    case holding
    /// The database answered and another store took the lease since: `holder` (its
    /// `asched_writer_lease.holder`, an instance name) writes now, at `epoch`; this store's
    /// writes are refused. For a service's lease that expired with no one taking it, `holder` is
    /// empty and `epoch` is this store's incarnation.
    case lost(holder: String, epoch: Int64)
    /// The database did not answer: the server is down, unreachable or refused the login.
    case unreachable(reason: String)
}
