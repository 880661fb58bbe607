/// A transaction: a numbered, frozen group of one service's items. Every attempt sends the
/// same id with the same body.
public struct Transaction: Sendable, Equatable {
    /// The id: from 1, strictly increasing per service.
    public let id: UInt64
    /// Where its items are in the log, frozen at creation.
    public let items: ItemRuns
    /// Which optional body fields it carries, frozen at creation.
    public let fields: BodyFields
    /// Send attempts started so far.
    public internal(set) var attempts: Int

    /// The JSON body for `items` (this transaction's items, read back from the log), built only
    /// from what is frozen, so retries are byte-identical.
    public func body(with items: EventBatch) -> [UInt8] {
        precondition(items.events.count == self.items.count(.events) && items.ephemeral.count == self.items.count(.ephemeral)
                     && items.toDevice.count == self.items.count(.toDevice), "the body of transaction \(id) needs its own items")
        var body = Array(#"{"events":["#.utf8)
        Self.appendJoined(items.events, to: &body)
        if fields.contains(.ephemeral) {
            body += Array(#"],"ephemeral":["#.utf8)
            Self.appendJoined(items.ephemeral, to: &body)
        }
        if fields.contains(.toDevice) {
            body += Array(#"],"de.sorunome.msc2409.to_device":["#.utf8)
            Self.appendJoined(items.toDevice, to: &body)
        }
        body += Array("]}".utf8)
        return body
    }

    private static func appendJoined(_ items: some Sequence<[UInt8]>, to body: inout [UInt8]) {
        var first = true
        for item in items {
            if !first { body.append(UInt8(ascii: ",")) }
            body += item
            first = false
        }
    }
}
