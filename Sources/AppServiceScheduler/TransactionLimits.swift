/// The most items of each kind one transaction carries; each at least 1 (a cap of 0 would make
/// a queue of only that kind into an empty transaction).
public struct TransactionLimits: Sendable, Equatable {
    /// Persistent events per transaction.
    public var eventsMax: Int = 100 { didSet { precondition(eventsMax > 0, "eventsMax must be positive") } }
    /// Ephemeral events per transaction.
    public var ephemeralMax: Int = 100 { didSet { precondition(ephemeralMax > 0, "ephemeralMax must be positive") } }
    /// To-device messages per transaction.
    public var toDeviceMax: Int = 100 { didSet { precondition(toDeviceMax > 0, "toDeviceMax must be positive") } }
    /// Relayed transactions' MSC3202 device data merged into one transaction.
    public var deviceDataMax: Int = 100 { didSet { precondition(deviceDataMax > 0, "deviceDataMax must be positive") } }

    /// Synapse's caps: 100 of each (and the device data of up to 100 relayed transactions).
    public init() {}

    /// Custom caps, each at least 1.
    public init(eventsMax: Int, ephemeralMax: Int, toDeviceMax: Int, deviceDataMax: Int = 100) {
        precondition(eventsMax > 0 && ephemeralMax > 0 && toDeviceMax > 0 && deviceDataMax > 0, "transaction caps must be positive")
        self.eventsMax = eventsMax
        self.ephemeralMax = ephemeralMax
        self.toDeviceMax = toDeviceMax
        self.deviceDataMax = deviceDataMax
    }
}
