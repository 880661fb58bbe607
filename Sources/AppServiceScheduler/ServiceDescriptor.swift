/// An application service the scheduler delivers to.
public struct ServiceDescriptor: Sendable, Equatable {
    /// The service's id (the registration's `id`).
    public var id: String
    /// Whether transactions carry an `ephemeral` field (the registration's `receive_ephemeral`).
    public var receivesEphemeral: Bool
    /// Whether transactions carry a `de.sorunome.msc2409.to_device` field.
    public var receivesToDevice: Bool

    /// A service receiving persistent events, and ephemeral events and to-device messages
    /// when asked for.
    public init(id: String, receivesEphemeral: Bool = false, receivesToDevice: Bool = false) {
        precondition(!id.isEmpty, "a service needs an id")
        self.id = id
        self.receivesEphemeral = receivesEphemeral
        self.receivesToDevice = receivesToDevice
    }
}
