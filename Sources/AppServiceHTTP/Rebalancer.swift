import AppServiceSchedulerPostgres
import Logging
import ServiceLifecycle

/// Keeps a delivering instance's place in the deployment (every ``Standby/pollInterval``) and
/// steps the daemon down once the services assigned to it are not the ones it delivers, and
/// could be: one assigned to it is free (its holder died or released it), or one it delivers is
/// now assigned to another live instance (one joined). `asched serve` then takes the services
/// assigned to it again, releasing the others for their instances to take.
struct Rebalancer: Service {
    /// Why the daemon stepped down.
    struct Reassigned: Error, CustomStringConvertible {
        let description: String
    }

    let url: PostgresDatabaseURL
    let owners: ServiceOwners
    let registrations: Registrations
    let leaseDuration: Duration
    let logger: Logger
    let stepDown: @Sendable (any Error) async -> Void

    func run() async throws {
        let heartbeat = PostgresHeartbeat(url: url, instance: owners.instanceName)
        await beatUntilReassigned(heartbeat)
        await heartbeat.close()
    }

    private func beatUntilReassigned(_ heartbeat: PostgresHeartbeat) async {
        while !Task.isCancelled {
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: Standby.pollInterval) })) != nil else { return }
            guard let deployment = try? await heartbeat.beat(address: await owners.address, duration: leaseDuration) else { continue }
            await owners.update(deployment)
            let assigned = Set(deployment.assignedServices(of: owners.instanceName, among: registrations.all.map(\.id)))
            let free = assigned.subtracting(owners.delivered).filter { deployment.leases[$0]?.isLive != true }
            let handedOver = owners.delivered.subtracting(assigned)
            guard !free.isEmpty || !handedOver.isEmpty else { continue }
            let reason = Reassigned(description: "the services are assigned anew: this instance (\(owners.instanceName)) takes "
                                        + "\(free.sorted()) and hands over \(handedOver.sorted()); stepping down to take its services again")
            logger.notice("\(reason)")
            await stepDown(reason)
            // Ends with the daemon, as a service that ends first would stop it at once.
            try? await gracefulShutdown()
            return
        }
    }
}
