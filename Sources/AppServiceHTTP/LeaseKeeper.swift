import AppServiceSchedulerPostgres
import Logging
import ServiceLifecycle

/// Stops the daemon once its store lost the database's writer lease (another instance took it,
/// or it expired before a renewal got through: the database refuses this instance's writes from
/// then on): it throws, the instance steps down, and its supervisor starts it again as a standby.
/// The store renews the lease itself, from the moment it opened, so a long replay does not let it
/// lapse.
struct LeaseKeeper: Service {
    /// Why the daemon stopped.
    struct LeaseLost: Error, CustomStringConvertible {
        let description: String
    }

    let store: PostgresRecordStore
    let instanceName: String
    let logger: Logger

    func run() async throws {
        guard let error = await cancelWhenGracefulShutdown({ await store.leaseLost() }) else { return }
        let lost = LeaseLost(description: "this instance (\(instanceName)) lost the writer lease: \(error); stepping down "
                             + "(start it again to serve as a standby)")
        logger.error("\(lost)")
        throw lost
    }
}
