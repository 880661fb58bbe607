/// What ``LogVerifier`` learned about one segment file.
package struct SegmentSummary: Sendable, Equatable {
    /// The file's name.
    package let fileName: String
    /// The id in its name.
    package let segmentId: UInt64
    /// The file's size in bytes.
    package internal(set) var fileBytes = 0
    /// Records read from it.
    package internal(set) var records = 0
    /// Its first and last record's positions, when it has records.
    package internal(set) var positions: ClosedRange<LogPosition>?
    /// Payload bytes as stored (after compression), frame headers excluded.
    package internal(set) var storedPayloadBytes = 0
    /// Payload bytes after decompression.
    package internal(set) var rawPayloadBytes = 0
    /// Records stored compressed.
    package internal(set) var compressedRecords = 0
    /// Whether its header continues the chain of the segment before it; nil when that could
    /// not be checked (the first segment, or the one before it is damaged).
    package internal(set) var chainVerified: Bool?
    /// Whether it is the last segment, the one a writer appends to.
    package let isLast: Bool

    init(fileName: String, segmentId: UInt64, isLast: Bool) {
        self.fileName = fileName
        self.segmentId = segmentId
        self.isLast = isLast
    }

    mutating func count(_ record: LogRecord) {
        records += 1
        positions = (positions?.lowerBound ?? record.position)...record.position
        storedPayloadBytes += record.location.storedBytes
        rawPayloadBytes += record.payload.count
        if record.location.isCompressed { compressedRecords += 1 }
    }
}
