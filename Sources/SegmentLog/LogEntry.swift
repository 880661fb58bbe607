/// A record to append: a caller-defined type and its payload.
public struct LogEntry: Sendable, Equatable {
    /// The record type, stored in the frame and returned by reads.
    public var type: UInt8
    /// The payload; it may be empty.
    public var payload: [UInt8]

    /// A record of `type` carrying `payload`.
    public init(type: UInt8, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }
}
