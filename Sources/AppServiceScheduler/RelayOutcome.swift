import SegmentLog

/// What ``AppServiceScheduler/relay(_:for:)`` did with a relayed transaction. Each is an answer
/// of `200 {}` to the homeserver: whatever it pushed is durable.
public enum RelayOutcome: Sendable, Equatable {
    /// New: stored at the position.
    case stored(LogPosition)
    /// Stored at the position, though its id is one the window remembers with other event ids:
    /// a homeserver that restarted its counter (Synapse on SQLite can), so new data.
    case storedReusingID(LogPosition)
    /// A retry of a transaction already stored (same id, same event ids): nothing written.
    case duplicate
}
