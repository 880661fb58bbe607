/// An application service the scheduler delivers to, and which optional fields its
/// transactions carry (as Synapse decides them from the registration).
public struct ServiceDescriptor: Sendable, Equatable {
    /// The service's id (the registration's `id`).
    public var id: String
    /// Whether transactions carry an `ephemeral` field (the registration's `receive_ephemeral`).
    public var receivesEphemeral: Bool
    /// Whether transactions carry a `de.sorunome.msc2409.to_device` field.
    public var receivesToDevice: Bool
    /// Whether transactions carry a `de.sorunome.msc2409.ephemeral` field (MSC2409's
    /// `de.sorunome.msc2409.push_ephemeral`).
    public var receivesUnstableEphemeral: Bool
    /// Whether transactions carry MSC3202's `org.matrix.msc3202.*` fields (`org.matrix.msc3202`).
    public var receivesDeviceData: Bool

    /// A service receiving persistent events, and the optional kinds when asked for.
    public init(id: String, receivesEphemeral: Bool = false, receivesToDevice: Bool = false,
                receivesUnstableEphemeral: Bool = false, receivesDeviceData: Bool = false) {
        precondition(!id.isEmpty, "a service needs an id")
        self.id = id
        self.receivesEphemeral = receivesEphemeral
        self.receivesToDevice = receivesToDevice
        self.receivesUnstableEphemeral = receivesUnstableEphemeral
        self.receivesDeviceData = receivesDeviceData
    }

    /// The optional fields of the service's transactions.
    var bodyFields: BodyFields {
        var fields: BodyFields = []
        if receivesEphemeral { fields.insert(.ephemeral) }
        if receivesUnstableEphemeral { fields.insert(.unstableEphemeral) }
        if receivesToDevice { fields.insert(.toDevice) }
        if receivesDeviceData { fields.insert(.deviceData) }
        return fields
    }
}
