import AppServiceScheduler
import Foundation

/// Queued items rendered as JSON for `dump --payload`.
enum ItemJSON {
    static func object(_ items: EventBatch) -> [String: Any] {
        var object: [String: Any] = ["events": items.events.map(parse), "ephemeral": items.ephemeral.map(parse),
                                     "to_device": items.toDevice.map(parse)]
        if !items.deviceData.isEmpty { object["device_data"] = items.deviceData.map(parse) }
        return object
    }

    static func text(_ items: EventBatch) -> String {
        JSONText.line(object(items))
    }

    private static func parse(_ item: [UInt8]) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(item))) ?? String(decoding: item, as: UTF8.self)
    }
}

/// One-line JSON with sorted keys, for output that scripts and diffs can rely on.
enum JSONText {
    static func line(_ object: [String: Any]) -> String {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
