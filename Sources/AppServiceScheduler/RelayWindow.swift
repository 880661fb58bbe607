import DequeModule

/// The transaction ids a service's homeserver pushed most recently through the relay, each with
/// the digest of its event ids: the dedupe window. It is part of the service's replayed state
/// (and of its checkpoints), so a retry is recognised after a restart and after compaction.
public struct RelayWindow: Sendable, Equatable {
    /// How many ids a service remembers; the oldest is forgotten past it.
    public static let capacity = 10_000

    /// Oldest first.
    private var order = Deque<String>()
    private var digests: [String: EventIDDigest] = [:]

    /// An empty window.
    public init() {}

    /// The digest remembered for `transaction`, if it is in the window.
    public func digest(of transaction: String) -> EventIDDigest? {
        digests[transaction]
    }

    /// How many ids are remembered.
    public var count: Int { order.count }

    /// The remembered ids and digests, oldest first.
    public var entries: [(transaction: String, eventIDs: EventIDDigest)] {
        order.map { ($0, digests[$0]!) }
    }

    /// Remembers `transaction` as the newest id; an id seen before (a homeserver that restarted
    /// its counter) moves to the newest place with its new digest.
    mutating func remember(_ transaction: String, _ eventIDs: EventIDDigest) {
        if digests.updateValue(eventIDs, forKey: transaction) != nil {
            // Rare (a reused id), so the linear removal is fine.
            order.removeAll { $0 == transaction }
        }
        order.append(transaction)
        if order.count > Self.capacity {
            digests[order.removeFirst()] = nil
        }
        assert(order.count == digests.count)
    }
}
