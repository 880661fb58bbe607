/// The three kinds of items a transaction carries, in the order records store them.
public enum ItemKind: Int, CaseIterable, Sendable {
    /// Persistent events (`events`).
    case events
    /// Ephemeral events (`ephemeral`).
    case ephemeral
    /// To-device messages (`de.sorunome.msc2409.to_device`).
    case toDevice
}
