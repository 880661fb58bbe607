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
    /// from what is frozen, so retries are byte-identical. The fields are named as Synapse names
    /// them; items of a kind whose field the transaction does not carry are left out.
    public func body(with items: EventBatch) -> [UInt8] {
        precondition(ItemKind.allCases.allSatisfy { items.count($0) == self.items.count($0) },
                     "the body of transaction \(id) needs its own items")
        var body = Array(#"{"events":["#.utf8)
        Self.appendJoined(items.events, to: &body)
        body.append(UInt8(ascii: "]"))
        for (field, key, kind) in [(BodyFields.ephemeral, "ephemeral", ItemKind.ephemeral),
                                   (.unstableEphemeral, "de.sorunome.msc2409.ephemeral", .ephemeral),
                                   (.toDevice, "de.sorunome.msc2409.to_device", .toDevice)] where fields.contains(field) {
            body += Array(",\"\(key)\":[".utf8)
            Self.appendJoined(items[kind], to: &body)
            body.append(UInt8(ascii: "]"))
        }
        if fields.contains(.deviceData) {
            body += DeviceData(merging: items.deviceData).bodyMembers()
        }
        body.append(UInt8(ascii: "}"))
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
