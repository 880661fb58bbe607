import DequeModule

/// The transaction ids a service's homeserver pushed most recently through the relay, each with
/// the digest of its event ids: the dedupe window. It is part of the service's replayed state
/// (and of its checkpoints), so a retry is recognised after a restart and after compaction.
public struct RelayWindow: Sendable, Equatable {
    /// How many ids a service remembers; the oldest is forgotten past it.
    public static let capacity = 10_000
    /// Ids longer than this are remembered by a digest, so a checkpoint's window stays small
    /// (under 1 MiB) whatever ids a homeserver makes up.
    static let idBytesMax = 64

    /// Oldest first.
    private var order = Deque<String>()
    private var digests: [String: EventIDDigest] = [:]

    /// An empty window.
    public init() {}

    /// The digest remembered for `transaction`, if it is in the window.
    public func digest(of transaction: String) -> EventIDDigest? {
        digests[Self.key(transaction)]
    }

    /// How many ids are remembered.
    public var count: Int { order.count }

    /// The remembered ids (a long id as `#` and the digest of it) and digests, oldest first.
    public var entries: [(transaction: String, eventIDs: EventIDDigest)] {
        order.map { ($0, digests[$0]!) }
    }

    /// Remembers `transaction` as the newest id; an id seen before (a homeserver that restarted
    /// its counter) moves to the newest place with its new digest.
    mutating func remember(_ transaction: String, _ eventIDs: EventIDDigest) {
        let transaction = Self.key(transaction)
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

    /// How `transaction` is remembered: itself, or `#` and its digest when it is long (a short id
    /// spelled `#` and 32 hex digits would share that place; no homeserver makes such ids).
    private static func key(_ transaction: String) -> String {
        transaction.utf8.count <= idBytesMax ? transaction : "#" + EventIDDigest(eventIDs: [transaction]).description
    }
}
