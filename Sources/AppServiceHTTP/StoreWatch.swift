import AppServiceSchedulerPostgres

/// What the daemon knows of its record store beyond the scheduler: for a PostgreSQL store,
/// whether the database answers and which instance holds its writer lease (asked on a
/// connection of its own, at most every ``probeIntervalMin``); for the embedded log, nothing to
/// ask: this instance owns it.
package actor StoreWatch {
    /// Answers younger than this are reused, so a busy probe or status page does not open a
    /// connection per request.
    static let probeIntervalMin = Duration.milliseconds(250)

    /// This instance's `instance_name`.
    package let instanceName: String
    /// The database's store; nil for the embedded log.
    nonisolated let database: PostgresRecordStore?
    private var last: (at: ContinuousClock.Instant, probe: PostgresLeaseProbe)?
    /// The lease holder last seen, kept while the database does not answer.
    private var lastHolder: String

    /// A watch of `database`, or of the embedded log when nil.
    package init(instanceName: String, database: PostgresRecordStore?) {
        self.instanceName = instanceName
        self.database = database
        lastHolder = instanceName
    }

    /// The `instance_name` of the instance delivering the services: the writer lease's holder.
    package func owner() async -> String {
        _ = await probe()
        return lastHolder
    }

    /// Why the store takes no writes from this instance now, or nil when it does.
    package func unhealthyReason() async -> String? {
        guard let database, let probe = await probe() else { return nil }
        switch probe {
        case .holding:
            return nil
        case .lost(let holder, let epoch):
            let lease = database.services == nil ? "the writer lease" : "a lease of its services"
            return "this instance (\(instanceName)) lost \(lease) of \(database.location) to \(holder) (epoch \(epoch)): "
                + "the database refuses its writes; restart it to take the lease back, or stop it"
        case .unreachable(let reason):
            return "database unreachable: \(reason)"
        }
    }

    private func probe() async -> PostgresLeaseProbe? {
        guard let database else { return nil }
        if let last, ContinuousClock.now - last.at < Self.probeIntervalMin { return last.probe }
        let probe = await database.probe()
        last = (ContinuousClock.now, probe)
        switch probe {
        case .holding: lastHolder = instanceName
        case .lost(let holder, _): lastHolder = holder
        case .unreachable: break
        }
        return probe
    }
}
