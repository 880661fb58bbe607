/// What a ``PostgresRecordStore``'s writes are checked against, in the statement that makes
/// them: once another store took what it names, the database refuses them.
enum Fence: Sendable, Equatable {
    /// The writer lease of the whole database, at this epoch: one store writes every service.
    case writerLease(epoch: Int64)
    /// The leases of `services` (sorted), taken at this incarnation: the store writes theirs only.
    case serviceLeases(incarnation: Int64, services: [String])

    /// The epoch or the incarnation: the number a later holder's is higher than.
    var token: Int64 {
        switch self {
        case .writerLease(let epoch): epoch
        case .serviceLeases(let incarnation, _): incarnation
        }
    }
}
