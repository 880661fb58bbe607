import Synchronization

/// The bytes of relay request bodies being read at once, across all requests, against a cap: a
/// homeserver catching up pushes many large transactions together, and their bodies could
/// otherwise exhaust memory. A request that would go past the cap gets a retryable 503.
final class RelayBodyBudget: Sendable {
    /// The cap, in bytes.
    let bytesMax: Int
    private let bytesInUse = Mutex(0)

    /// A budget of `bytesMax` bytes, none in use.
    init(bytesMax: Int) {
        precondition(bytesMax > 0, "a relay body budget needs room for a body")
        self.bytesMax = bytesMax
    }

    /// Takes `bytes` more; false, taking nothing, when they would go past the cap.
    func reserve(_ bytes: Int) -> Bool {
        precondition(bytes >= 0, "a reservation is a byte count")
        return bytesInUse.withLock { inUse in
            guard bytes <= bytesMax - inUse else { return false }
            inUse += bytes
            return true
        }
    }

    /// Gives back `bytes` taken by ``reserve(_:)``.
    func release(_ bytes: Int) {
        bytesInUse.withLock { inUse in
            precondition(bytes >= 0 && bytes <= inUse, "released \(bytes) bytes of \(inUse) reserved")
            inUse -= bytes
        }
    }
}
