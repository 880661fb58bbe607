/// Counters of a ``SegmentLog`` writer since it was opened.
public struct LogStatistics: Sendable, Equatable {
    /// Records appended.
    public var appendedRecords = 0
    /// Payload bytes as given to `append`.
    public var payloadBytes = 0
    /// Payload bytes as stored, after compression.
    public var storedPayloadBytes = 0
    /// Writes to segment files (each covers one or more appends).
    public var writes = 0
    /// `fdatasync` calls on segment files and `fsync` calls on the directory, rolls included.
    public var syncs = 0
    /// Segments started.
    public var segmentsCreated = 0
    /// The log's size now: the bytes of its segments' headers and records, as the writer
    /// tracks them through appends, new segments and compactions (without space preallocated
    /// for records not yet written). Unlike the counters, it covers what was there at open.
    public var logBytes = 0

    /// Zero counters; a ``SegmentLog`` counts its own, another record store reports its own.
    public init() {}

    /// Payload bytes given per byte stored; above 1 when compression saves space.
    public var compressionRatio: Double {
        storedPayloadBytes == 0 ? 1 : Double(payloadBytes) / Double(storedPayloadBytes)
    }
}
