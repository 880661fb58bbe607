import AppServiceScheduler
import Foundation

/// The delivery invariants, checked from the services' side: every acknowledged item was
/// delivered, under exactly one transaction id, in enqueue order; new ids only grow; a
/// repeated id always carries a byte-identical body. Items are JSON objects whose
/// `content.n` numbers them in enqueue order, per service and kind.
public enum DeliveryCheck {
    /// What went wrong, empty when nothing did. `acknowledged` maps "service" and
    /// "service/ephemeral" to the numbers acknowledged, in enqueue order; `requireDelivery`
    /// false skips "every acknowledged item was delivered" (a policy that may lose them).
    public static func violations(received: [SimulatedApplicationService.Received],
                                  acknowledged: [String: [Int]], requireDelivery: Bool = true) -> [String] {
        var problems: [String] = []
        var bodies: [String: [UInt64: [UInt8]]] = [:]
        var firstSeen: [String: [UInt64]] = [:]
        for delivery in received {
            let transaction = delivery.transaction
            if let known = bodies[transaction.service]?[transaction.id] {
                if known != transaction.body {
                    problems.append("\(transaction.service) transaction \(transaction.id) was resent with another body")
                }
            } else {
                bodies[transaction.service, default: [:]][transaction.id] = transaction.body
                firstSeen[transaction.service, default: []].append(transaction.id)
            }
        }
        for (service, ids) in firstSeen where ids != ids.sorted() {
            problems.append("\(service): new transaction ids arrived out of order: \(ids)")
        }
        let delivered = received.filter(\.delivered).reduce(into: [String: Set<UInt64>]()) {
            $0[$1.transaction.service, default: []].insert($1.transaction.id)
        }
        for (key, numbers) in acknowledged {
            let service = String(key.split(separator: "/")[0])
            let field = key.hasSuffix("/ephemeral") ? "ephemeral" : "events"
            let inIDOrder = (bodies[service] ?? [:]).sorted { $0.key < $1.key }
                .filter { delivered[service, default: []].contains($0.key) }
                .flatMap { Self.numbers(in: $0.value, field: field) }
            if Set(inIDOrder).count != inIDOrder.count { problems.append("\(key): an item went out under two ids") }
            if inIDOrder != inIDOrder.sorted() { problems.append("\(key): items delivered out of enqueue order") }
            let missing = Set(numbers).subtracting(inIDOrder)
            if requireDelivery && !missing.isEmpty { problems.append("\(key): acknowledged items never delivered: \(missing.sorted())") }
        }
        return problems
    }

    /// The `content.n` of each item of `field` in a transaction body.
    public static func numbers(in body: [UInt8], field: String) -> [Int] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let items = object[field] as? [[String: Any]] else { return [] }
        return items.compactMap { ($0["content"] as? [String: Any])?["n"] as? Int }
    }

    /// The `content.n` of one item.
    public static func number(of item: [UInt8]) -> Int? {
        ((try? JSONSerialization.jsonObject(with: Data(item)) as? [String: Any])?["content"] as? [String: Any])?["n"] as? Int
    }
}
