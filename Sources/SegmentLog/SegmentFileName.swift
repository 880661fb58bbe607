/// Segment file names: the segment id in 16 lower-case hex digits plus `.seg`, so `ls` lists
/// segments in log order.
enum SegmentFileName {
    static let suffix = ".seg"
    /// Where a new segment is written before it is renamed to its final name.
    static let temporarySuffix = ".tmp"
    /// A zero-filled file waiting to become the next segment.
    static let preallocatedName = "next.prealloc"
    /// The directory's writer lock.
    static let lockName = "LOCK"
    /// Suffix of the copy `repair` keeps of a segment it cuts.
    static let brokenSuffix = ".broken"

    static func name(for segmentId: UInt64) -> String {
        precondition(segmentId > 0)
        let digits = String(segmentId, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits + suffix
    }

    static func segmentId(of name: String) -> UInt64? {
        guard name.hasSuffix(suffix), name.utf8.count == 16 + suffix.utf8.count else { return nil }
        guard let id = UInt64(name.dropLast(suffix.count), radix: 16), id > 0,
              self.name(for: id) == name else { return nil }
        return id
    }
}
