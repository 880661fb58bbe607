/// Where a record's frame lies on disk, for inspection tools and error messages.
public struct RecordLocation: Sendable, Equatable {
    /// The segment file's name (not its full path).
    public let segmentFileName: String
    /// The byte offset of the frame's header inside the segment file.
    public let offset: Int
    /// The payload's size as stored, after compression.
    public let storedBytes: Int
    /// Whether the payload is stored LZ4-compressed.
    public let isCompressed: Bool

    /// Creates a location; the log creates these when reading.
    public init(segmentFileName: String, offset: Int, storedBytes: Int, isCompressed: Bool) {
        self.segmentFileName = segmentFileName
        self.offset = offset
        self.storedBytes = storedBytes
        self.isCompressed = isCompressed
    }
}
