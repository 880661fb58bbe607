import AppServiceScheduler

/// A homeserver's transaction body (the AS API's `PUT /transactions/{txnId}`) read into the
/// scheduler's ``RelayedTransaction``. Every field it stores is checked first, so a body that
/// is not a transaction writes nothing.
enum RelayTransactionBody {
    /// MSC3202's body keys, by the short key of the scheduler's device-data item; of several
    /// body keys, the first present is taken.
    static let deviceDataKeys: KeyValuePairs<String, [String]> = [
        "device_lists": ["org.matrix.msc3202.device_lists"],
        // Synapse sends the counts under both names; a homeserver sending only the typo is heard too.
        "device_one_time_keys_count": ["org.matrix.msc3202.device_one_time_keys_count",
                                       "org.matrix.msc3202.device_one_time_key_counts"],
        "device_unused_fallback_key_types": ["org.matrix.msc3202.device_unused_fallback_key_types"],
    ]

    /// The transaction `transactionID` with `body`'s items, each the bytes the homeserver sent;
    /// throws 400 `M_BAD_JSON` for a field of the wrong shape.
    static func transaction(_ body: JSONDocument, transactionID: String) throws -> RelayedTransaction {
        let events = try RequestJSON.objects("events", in: body)
        // A registration with both ephemeral flags gets the same list under both names: stored once.
        let ephemeralKey = body.member("ephemeral", of: body.root) != nil ? "ephemeral" : "de.sorunome.msc2409.ephemeral"
        let items = EventBatch(events: events.map { Array(body[$0]) },
                               ephemeral: try RequestJSON.items(ephemeralKey, in: body),
                               toDevice: try RequestJSON.items("de.sorunome.msc2409.to_device", in: body),
                               deviceData: try deviceData(in: body).map { [$0] } ?? [])
        let eventIDs = events.compactMap { event in body.member("event_id", of: event).flatMap(body.string) }
        return RelayedTransaction(transactionID: transactionID, eventIDs: eventIDs, items: items)
    }

    /// The MSC3202 fields of `body` as one JSON object under the short keys (in sorted order,
    /// each value the bytes the homeserver sent), or nil when it carries none.
    static func deviceData(in body: JSONDocument) throws -> [UInt8]? {
        var item: [UInt8] = []
        for (shortKey, bodyKeys) in deviceDataKeys {
            guard let (bodyKey, value) = bodyKeys.lazy.compactMap({ key in body.member(key, of: body.root).map { (key, $0) } }).first
            else { continue }
            try check(value, in: body, isShapedAs: shortKey, key: bodyKey)
            item += Array((item.isEmpty ? "{\"" : ",\"").utf8) + Array(shortKey.utf8) + Array("\":".utf8) + body[value]
        }
        guard !item.isEmpty else { return nil }
        return item + [UInt8(ascii: "}")]
    }

    /// The scheduler merges these fields per user (and device), so each must have the shape
    /// Synapse sends: `device_lists` `{changed: [user], left: [user]}`, the others
    /// `{user: {device: ...}}`.
    private static func check(_ value: JSONValue, in body: JSONDocument, isShapedAs shortKey: String, key: String) throws {
        guard value.kind == .object else { throw HTTPAPIError.badJSON("\"\(key)\" must be a JSON object") }
        if shortKey == "device_lists" {
            for list in ["changed", "left"] {
                guard let users = body.member(list, of: value) else { continue }
                guard users.kind == .array, body.elements(of: users).allSatisfy({ $0.kind == .string }) else {
                    throw HTTPAPIError.badJSON("\"\(key)\".\(list) must be a list of user ids")
                }
            }
        } else if let user = body.members(of: value).first(where: { $0.value.kind != .object })?.name {
            throw HTTPAPIError.badJSON("\"\(key)\"[\"\(user)\"] must be a JSON object of devices")
        }
    }
}
