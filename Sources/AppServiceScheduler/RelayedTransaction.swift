/// A transaction a homeserver pushed through the relay (`PUT .../transactions/{txnId}`), as the
/// scheduler stores it: its items, its id, and the digest of its event ids that tells a retry
/// of it from new data.
public struct RelayedTransaction: Sendable, Equatable {
    /// The homeserver's `txnId`.
    public var transactionID: String
    /// The digest of its events' `event_id`s.
    public var eventIDs: EventIDDigest
    /// Its items: `events`, the ephemeral events (stored once whatever the field's name),
    /// to-device messages and at most one MSC3202 ``ItemKind/deviceData`` object.
    public var items: EventBatch

    /// The transaction `transactionID` holding `items`, whose events have the ids `eventIDs`.
    public init(transactionID: String, eventIDs: [String], items: EventBatch) {
        self.transactionID = transactionID
        self.eventIDs = EventIDDigest(eventIDs: eventIDs)
        self.items = items
    }
}
