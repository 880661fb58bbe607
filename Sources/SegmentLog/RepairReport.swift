/// What ``SegmentLog/repair(directory:fileSystem:dryRun:)`` cut, or would cut.
public struct RepairReport: Sendable, Equatable, CustomStringConvertible {
    /// The segment that was cut (always the last one).
    public let segmentFileName: String
    /// The offset it was cut at; every record before it is kept.
    public let offset: Int
    /// The bytes removed from the segment.
    public let removedBytes: Int
    /// Why the bytes at `offset` are not valid records.
    public let reason: String
    /// The name of the copy of the whole segment as it was, or nil on a dry run.
    public let brokenCopyFileName: String?

    /// A one-line summary: what was (or would be) cut, where, and why.
    public var description: String {
        let action = brokenCopyFileName == nil ? "would cut" : "cut"
        let copy = brokenCopyFileName.map { "; the original is kept as \($0)" } ?? ""
        return "\(action) \(segmentFileName) at offset \(offset), removing \(removedBytes) bytes (\(reason))\(copy)"
    }
}
