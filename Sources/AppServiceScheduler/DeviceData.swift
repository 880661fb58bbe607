import Foundation

/// MSC3202's device data of the relayed transactions one outgoing transaction groups, merged as
/// the homeserver would have sent it at once: per user and device the latest key counts and
/// fallback key types win, and per user the latest of "changed" and "left".
///
/// Each item is a JSON object with any of `device_lists` (`{changed, left}`),
/// `device_one_time_keys_count` and `device_unused_fallback_key_types`
/// (`{user: {device: value}}`), as the relay stores them.
struct DeviceData {
    /// Per user, whether the latest device list change says the user left.
    private var userLeft: [String: Bool] = [:]
    private var oneTimeKeyCounts: [String: [String: Any]] = [:]
    private var fallbackKeyTypes: [String: [String: Any]] = [:]

    /// The merge of `items`, oldest first.
    init(merging items: some Sequence<[UInt8]>) {
        for item in items {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(item))) as? [String: Any] else { continue }
            if let lists = object["device_lists"] as? [String: Any] {
                for user in lists["changed"] as? [String] ?? [] { userLeft[user] = false }
                for user in lists["left"] as? [String] ?? [] { userLeft[user] = true }
            }
            Self.merge(object["device_one_time_keys_count"], into: &oneTimeKeyCounts)
            Self.merge(object["device_unused_fallback_key_types"], into: &fallbackKeyTypes)
        }
    }

    private static func merge(_ value: Any?, into merged: inout [String: [String: Any]]) {
        guard let users = value as? [String: Any] else { return }
        for (user, devices) in users {
            guard let devices = devices as? [String: Any] else { continue }
            merged[user, default: [:]].merge(devices) { _, later in later }
        }
    }

    /// The transaction body's `org.matrix.msc3202.*` fields as `"key":value` members, keys sorted
    /// and only the non-empty ones, as Synapse sends them; the key counts under both names Synapse
    /// uses. Deterministic, so a transaction's body is the same on every attempt.
    func bodyMembers() -> [UInt8] {
        var members: [(key: String, value: Any)] = []
        if !userLeft.isEmpty {
            members.append(("org.matrix.msc3202.device_lists", [
                "changed": userLeft.filter { !$0.value }.keys.sorted(),
                "left": userLeft.filter(\.value).keys.sorted(),
            ]))
        }
        if !oneTimeKeyCounts.isEmpty {
            members.append(("org.matrix.msc3202.device_one_time_key_counts", oneTimeKeyCounts))
            members.append(("org.matrix.msc3202.device_one_time_keys_count", oneTimeKeyCounts))
        }
        if !fallbackKeyTypes.isEmpty {
            members.append(("org.matrix.msc3202.device_unused_fallback_key_types", fallbackKeyTypes))
        }
        var bytes: [UInt8] = []
        for (key, value) in members {
            bytes += Array(",\"\(key)\":".utf8)
            // Only dictionaries and arrays of JSON values built above: serialization cannot fail.
            bytes += Array(try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]))
        }
        return bytes
    }
}
