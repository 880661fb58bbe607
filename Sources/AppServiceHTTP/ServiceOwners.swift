import AppServiceSchedulerPostgres
import Foundation

/// Who delivers each service when the instances on one database spread the services over
/// themselves: the deployment as last read (``PostgresDeployment``), and the services this
/// instance delivers (those whose leases its store holds; none while it stands by).
package actor ServiceOwners {
    /// This instance's `instance_name`.
    package nonisolated let instanceName: String
    /// The services this instance delivers.
    package nonisolated let delivered: Set<String>
    /// The deployment as last read; nil until read once.
    package private(set) var deployment: PostgresDeployment?
    /// Where this instance serves, once it listens; what its heartbeat advertises.
    package private(set) var address = ""
    /// Why the deployment could not be read last time, if it could not.
    package private(set) var problem: String?
    /// Forwards waiting for a service's owner (any owner's, for nil) to be another than the one
    /// they were sent to, by their id.
    private var ownerWaiters: [UUID: (service: String?, owner: String, continuation: CheckedContinuation<Void, any Error>)] = [:]

    package init(instanceName: String, delivered: Set<String>) {
        self.instanceName = instanceName
        self.delivered = delivered
    }

    package func update(_ deployment: PostgresDeployment) {
        self.deployment = deployment
        for (id, waiter) in ownerWaiters where currentOwner(of: waiter.service) != waiter.owner {
            ownerWaiters.removeValue(forKey: id)
            waiter.continuation.resume()
        }
    }

    /// Returns once `service`'s owner (for nil, the instance ``anyOwner()`` names) is no longer
    /// `owner`: the instance a request was forwarded to lost the lease (it died, or was paused
    /// past it) and will answer late or never. Throws `CancellationError` once the calling task
    /// is cancelled (the forward was answered).
    func ownerChange(of service: String?, from owner: String) async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else if currentOwner(of: service) != owner {
                    continuation.resume()
                } else {
                    ownerWaiters[id] = (service, owner, continuation)
                }
            }
        } onCancel: {
            Task { await self.cancelOwnerWaiter(id) }
        }
    }

    private func cancelOwnerWaiter(_ id: UUID) {
        ownerWaiters.removeValue(forKey: id)?.continuation.resume(throwing: CancellationError())
    }

    private func currentOwner(of service: String?) -> String? {
        service.map { owner(of: $0)?.name } ?? anyOwner()?.name
    }

    package func listening(at address: String) {
        self.address = address
    }

    package func set(problem: String?) {
        self.problem = problem
        if problem != nil { deployment = nil }
    }

    /// The instance delivering `service` and where it serves, when one holds its lease and has
    /// advertised its address.
    package func owner(of service: String) -> (name: String, address: String)? {
        delivered.contains(service) ? (instanceName, address) : deployment?.owner(of: service)
    }

    /// Any instance delivering a service, and its address: where a request about no particular
    /// service goes from an instance that delivers none.
    package func anyOwner() -> (name: String, address: String)? {
        let live = deployment?.leases.compactMap { service, _ in deployment?.owner(of: service) } ?? []
        return live.min { $0.name < $1.name }
    }
}
