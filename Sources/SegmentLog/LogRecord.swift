/// A record read back from the log.
public struct LogRecord: Sendable, Equatable {
    /// Where the record stands in the log.
    public let position: LogPosition
    /// The caller-defined record type given to ``SegmentLog/append(type:payload:)``.
    public let type: UInt8
    /// The payload exactly as appended (decompressed if it was stored compressed).
    public let payload: [UInt8]
    /// Where the record's frame lies on disk.
    public let location: RecordLocation

    /// Creates a record; the log creates these when reading.
    public init(position: LogPosition, type: UInt8, payload: [UInt8], location: RecordLocation) {
        self.position = position
        self.type = type
        self.payload = payload
        self.location = location
    }
}
