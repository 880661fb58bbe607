import AppServiceScheduler
import Foundation

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

    /// The transaction `transactionID` with `body`'s items; throws 400 `M_BAD_JSON` for a field
    /// of the wrong shape.
    static func transaction(_ body: [String: Any], transactionID: String) throws -> RelayedTransaction {
        let events = try RequestJSON.objects("events", in: body)
        // A registration with both ephemeral flags gets the same list under both names: stored once.
        let ephemeralKey = body["ephemeral"] != nil ? "ephemeral" : "de.sorunome.msc2409.ephemeral"
        let items = EventBatch(events: events.map(\.bytes),
                               ephemeral: try RequestJSON.items(ephemeralKey, in: body),
                               toDevice: try RequestJSON.items("de.sorunome.msc2409.to_device", in: body),
                               deviceData: try deviceData(in: body).map { [$0] } ?? [])
        return RelayedTransaction(transactionID: transactionID, eventIDs: events.compactMap { $0.object["event_id"] as? String },
                                  items: items)
    }

    /// The MSC3202 fields of `body` as one JSON object under the short keys, or nil when it
    /// carries none.
    static func deviceData(in body: [String: Any]) throws -> [UInt8]? {
        var item: [String: Any] = [:]
        for (shortKey, bodyKeys) in deviceDataKeys {
            guard let bodyKey = bodyKeys.first(where: { body[$0] != nil }) else { continue }
            let value = body[bodyKey]!
            try check(value, isShapedAs: shortKey, key: bodyKey)
            item[shortKey] = value
        }
        guard !item.isEmpty else { return nil }
        return Array(try JSONSerialization.data(withJSONObject: item, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    /// The scheduler merges these fields per user (and device), so each must have the shape
    /// Synapse sends: `device_lists` `{changed: [user], left: [user]}`, the others
    /// `{user: {device: ...}}`.
    private static func check(_ value: Any, isShapedAs shortKey: String, key: String) throws {
        guard let object = value as? [String: Any] else { throw HTTPAPIError.badJSON("\"\(key)\" must be a JSON object") }
        if shortKey == "device_lists" {
            for list in ["changed", "left"] where object[list] != nil && !(object[list] is [String]) {
                throw HTTPAPIError.badJSON("\"\(key)\".\(list) must be a list of user ids")
            }
        } else if let user = object.first(where: { !($0.value is [String: Any]) })?.key {
            throw HTTPAPIError.badJSON("\"\(key)\"[\"\(user)\"] must be a JSON object of devices")
        }
    }
}
