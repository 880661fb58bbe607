/// The kinds of items a transaction carries, in the order records store them.
public enum ItemKind: Int, CaseIterable, Sendable {
    /// Persistent events (`events`).
    case events
    /// Ephemeral events (`ephemeral`).
    case ephemeral
    /// To-device messages (`de.sorunome.msc2409.to_device`).
    case toDevice
    /// MSC3202 device data (device list changes, one-time and fallback key counts): one JSON
    /// object per relayed transaction, merged into a transaction's `org.matrix.msc3202.*` fields
    /// (``DeviceData``). Records of encoding version 2 and before hold none.
    case deviceData
}
