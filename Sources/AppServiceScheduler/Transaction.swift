/// A transaction: a numbered, frozen group of one service's items. Every attempt sends the
/// same id with the same body.
public struct Transaction: Sendable, Equatable {
    /// The id: from 1, strictly increasing per service.
    public let id: UInt64
    /// The items, frozen at creation.
    public let items: EventBatch
    /// Which optional body fields it carries, frozen at creation.
    public let fields: BodyFields
    /// Send attempts started so far.
    public internal(set) var attempts: Int

    /// The JSON body, built only from what is frozen: retries are byte-identical.
    public var body: [UInt8] {
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
