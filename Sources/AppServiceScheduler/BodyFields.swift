/// The optional fields a transaction body carries, frozen when the transaction is created.
public struct BodyFields: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// `ephemeral`, for services with `receive_ephemeral`.
    public static let ephemeral = BodyFields(rawValue: 1)
    /// `de.sorunome.msc2409.to_device`.
    public static let toDevice = BodyFields(rawValue: 2)
    /// `de.sorunome.msc2409.ephemeral`, for services with MSC2409's `push_ephemeral`.
    public static let unstableEphemeral = BodyFields(rawValue: 4)
    /// The `org.matrix.msc3202.*` fields, for services with `org.matrix.msc3202`.
    public static let deviceData = BodyFields(rawValue: 8)
}
