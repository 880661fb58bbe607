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
    /// MSC3202 device data, one object per relayed transaction (``ItemKind/deviceData``).
    public var deviceData: Deque<[UInt8]>

    /// A batch of the given items.
    public init(events: [[UInt8]] = [], ephemeral: [[UInt8]] = [], toDevice: [[UInt8]] = [], deviceData: [[UInt8]] = []) {
        self.events = Deque(events)
        self.ephemeral = Deque(ephemeral)
        self.toDevice = Deque(toDevice)
        self.deviceData = Deque(deviceData)
    }

    /// Whether the batch holds nothing.
    public var isEmpty: Bool { count == 0 }

    /// Items of all kinds.
    public var count: Int { events.count + ephemeral.count + toDevice.count + deviceData.count }

    /// How many items of `kind` the batch holds.
    public func count(_ kind: ItemKind) -> Int {
        switch kind {
        case .events: events.count
        case .ephemeral: ephemeral.count
        case .toDevice: toDevice.count
        case .deviceData: deviceData.count
        }
    }

    /// The items of `kind`.
    public subscript(kind: ItemKind) -> Deque<[UInt8]> {
        get {
            switch kind {
            case .events: events
            case .ephemeral: ephemeral
            case .toDevice: toDevice
            case .deviceData: deviceData
            }
        }
        set {
            switch kind {
            case .events: events = newValue
            case .ephemeral: ephemeral = newValue
            case .toDevice: toDevice = newValue
            case .deviceData: deviceData = newValue
            }
        }
    }
}
