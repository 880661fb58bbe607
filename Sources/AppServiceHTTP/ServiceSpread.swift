import Foundation
import Hummingbird

/// What an instance needs to serve requests about services other instances deliver, in a
/// deployment that spreads the services over the instances on one database.
struct ServiceSpread: Sendable {
    /// Who delivers which service.
    let owners: ServiceOwners
    /// How requests reach them.
    let forwarder: OwnerForwarder
    /// The services configured, whoever delivers them.
    let registrations: Registrations

    /// `request` sent on to `owner`, which delivers `service` (nil: a request about no particular
    /// service), and its answer; unless the service's owner changes first (the instance lost the
    /// lease: it died, or was paused past it, and would hold the request until the forward's
    /// time limit while its successor already takes requests): then a retryable 503.
    func forward(_ request: Request, about service: String?, to owner: (name: String, address: String)) async throws -> Response {
        try await withThrowingTaskGroup(of: Response?.self) { group in
            group.addTask { try await forwarder.forward(request, to: owner.address, owner: owner.name) }
            group.addTask {
                try await owners.ownerChange(of: service, from: owner.name)
                return nil
            }
            defer { group.cancelAll() }
            guard let response = try await group.next() ?? nil else {
                throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE",
                                   "instance \(owner.name) lost its lease while this instance (\(owners.instanceName)) forwarded this "
                                       + "request to it; it may or may not have been committed; retry", headers: [.retryAfter: "1"])
            }
            return response
        }
    }

    /// `document`, the body of a `POST /_asched/v1/events`, sent to the instance delivering each
    /// of `services` (once per instance, which routes it again for its own services), and the
    /// counts each routed for them. An instance's refusal is passed on as it came.
    func forwardEvents(_ document: JSONDocument, headers: HTTPFields, for services: Set<String>) async throws -> [String: Int] {
        var instances: [String: (name: String, services: Set<String>)] = [:]
        for service in services.sorted() {
            guard let owner = await owners.owner(of: service) else {
                throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE",
                                   "no instance delivers \(service) now (its lease is moving between instances); events for "
                                       + "services this instance delivers may have been committed; retry", headers: [.retryAfter: "1"])
            }
            instances[owner.address, default: (owner.name, [])].services.insert(service)
        }
        var counts: [String: Int] = [:]
        for (address, owner) in instances.sorted(by: { $0.key < $1.key }) {
            let answer = try await forwarder.send(.post, "/_asched/v1/events", headers: headers, body: ByteBuffer(bytes: document.bytes),
                                                  to: address, owner: owner.name)
            let object = (try? JSONSerialization.jsonObject(with: Data(answer.body.readableBytesView))) as? [String: Any]
            guard answer.status == .ok, let routed = object?["routed"] as? [String: Int] else {
                throw HTTPAPIError(answer.status, object?["errcode"] as? String ?? "M_UNKNOWN",
                                   object?["error"] as? String ?? "instance \(owner.name), delivering a routed service, answered "
                                       + "\(answer.status.code)")
            }
            // Each of these services had an event: one missing from the answer is one the instance no
            // longer delivers (it moved since this instance read the deployment).
            if let moved = owner.services.subtracting(routed.keys).min() {
                throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE",
                                   "instance \(owner.name) no longer delivers \(moved) (it is moving between instances); events for "
                                       + "other services may have been committed; retry", headers: [.retryAfter: "1"])
            }
            for (service, count) in routed where owner.services.contains(service) { counts[service] = count }
        }
        return counts
    }

    /// Whether `service` is configured and delivered by another instance: asked of every request
    /// naming a service, so it sorts and copies nothing.
    func isElsewhere(_ service: String) -> Bool {
        !owners.delivered.contains(service) && registrations.all.contains { $0.id == service }
    }

    /// The configured services this instance does not deliver.
    var elsewhere: [String] {
        registrations.all.map(\.id).filter { !owners.delivered.contains($0) }.sorted()
    }
}
