import DequeModule

/// Items for one service, each a JSON object's bytes, by kind; order within a kind is
/// delivery order.
public struct EventBatch: Sendable, Equatable {
    /// Persistent events (`events` in the transaction body).
    public var events: Deque<[UInt8]>
    /// Ephemeral events (`ephemeral`).
    public var ephemeral: Deque<[UInt8]>
    /// To-device messages (`de.sorunome.msc2409.to_device`).
    public var toDevice: Deque<[UInt8]>

    /// A batch of the given items.
    public init(events: [[UInt8]] = [], ephemeral: [[UInt8]] = [], toDevice: [[UInt8]] = []) {
        self.events = Deque(events)
        self.ephemeral = Deque(ephemeral)
        self.toDevice = Deque(toDevice)
    }

    /// Whether the batch holds nothing.
    public var isEmpty: Bool { events.isEmpty && ephemeral.isEmpty && toDevice.isEmpty }

    /// Items of all kinds.
    public var count: Int { events.count + ephemeral.count + toDevice.count }

    mutating func append(contentsOf other: EventBatch) {
        events.append(contentsOf: other.events)
        ephemeral.append(contentsOf: other.ephemeral)
        toDevice.append(contentsOf: other.toDevice)
    }

    /// Removes and returns the first `events`, `ephemeral` and `toDevice` items.
    mutating func removeFirst(events: Int, ephemeral: Int, toDevice: Int) -> EventBatch {
        precondition(events <= self.events.count && ephemeral <= self.ephemeral.count && toDevice <= self.toDevice.count)
        var taken = EventBatch()
        taken.events = Deque(self.events.prefix(events))
        taken.ephemeral = Deque(self.ephemeral.prefix(ephemeral))
        taken.toDevice = Deque(self.toDevice.prefix(toDevice))
        self.events.removeFirst(events)
        self.ephemeral.removeFirst(ephemeral)
        self.toDevice.removeFirst(toDevice)
        return taken
    }
}
