/// What ``SegmentLog/compactSealedSegments(summarize:)`` did.
public struct CompactionReport: Sendable, Equatable, CustomStringConvertible {
    /// Sealed segments replaced by one compacted segment.
    public let segmentsReplaced: Int
    /// Records they held.
    public let recordsBefore: Int
    /// Records the compacted segment holds.
    public let recordsAfter: Int
    /// Bytes of the replaced segment files.
    public let bytesBefore: Int
    /// Bytes of the compacted segment file.
    public let bytesAfter: Int
    /// The last position the compacted segment stands in for.
    public let throughPosition: LogPosition
    /// Wall-clock time taken.
    public let duration: Duration

    public var description: String {
        "compacted \(segmentsReplaced) segments through position \(throughPosition): \(recordsBefore) records, "
            + "\(bytesBefore) bytes -> \(recordsAfter) records, \(bytesAfter) bytes in \(duration)"
    }
}
