/// A transaction as handed to a ``Transport``: every attempt of the same transaction carries
/// the same id and a byte-identical body.
public struct OutgoingTransaction: Sendable, Equatable {
    /// The application service it is for.
    public let service: String
    /// The transaction id: from 1, strictly increasing per service, never reused.
    public let id: UInt64
    /// Which attempt this is, from 1.
    public let attempt: Int
    /// The JSON body, e.g. `{"events":[…],"ephemeral":[…]}`.
    public let body: [UInt8]

    /// Creates a transaction to send.
    public init(service: String, id: UInt64, attempt: Int, body: [UInt8]) {
        self.service = service
        self.id = id
        self.attempt = attempt
        self.body = body
    }
}
