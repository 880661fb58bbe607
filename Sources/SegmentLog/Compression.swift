/// How record payloads are compressed before they are stored.
public enum Compression: Sendable, Equatable {
    /// Store every payload as given.
    case none
    /// Compress payloads of at least `thresholdBytes` with LZ4, keeping the compressed form only
    /// when it is smaller.
    case lz4(thresholdBytes: Int)

    /// LZ4 for payloads of 128 bytes or more.
    public static let `default` = Compression.lz4(thresholdBytes: 128)
}
