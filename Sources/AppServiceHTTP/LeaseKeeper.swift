import AppServiceSchedulerPostgres
import Logging
import ServiceLifecycle

/// Stops the daemon once its store lost the database's writer lease (another instance took it,
/// or it expired before a renewal got through: the database refuses this instance's writes from
/// then on): the instance steps down, and `asched serve` goes on as a standby. The store
/// renews the lease itself, from the moment it opened, so a long replay does not let it lapse.
///
/// With `stepDown`, it hands the error over and waits for the graceful shutdown `stepDown` starts,
/// so requests under way are answered and connections closed as on SIGTERM; without, it throws,
/// which cancels the daemon's services at once.
struct LeaseKeeper: Service {
    /// Why the daemon stopped.
    struct LeaseLost: Error, CustomStringConvertible {
        let description: String
    }

    let store: PostgresRecordStore
    let instanceName: String
    let logger: Logger
    let stepDown: (@Sendable (any Error) async -> Void)?

    func run() async throws {
        guard let error = await cancelWhenGracefulShutdown({ await store.leaseLost() }) else { return }
        let lease = store.services == nil ? "the writer lease" : "a lease of its services"
        let lost = LeaseLost(description: "this instance (\(instanceName)) lost \(lease): \(error); stepping down")
        logger.error("\(lost)")
        guard let stepDown else { throw lost }
        await stepDown(lost)
        try? await gracefulShutdown()
    }
}
