/// The position (log sequence number) of a record.
///
/// Positions start at 1 and strictly increase along the log. A record keeps its position
/// forever, compaction included; compaction leaves gaps, so consecutive records need not have
/// consecutive positions.
public struct LogPosition: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The position as stored on disk.
    public let rawValue: UInt64

    /// Wraps a stored position.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The position before any record: reading from here reads the whole log.
    public static let start = LogPosition(rawValue: 0)

    /// Log order.
    public static func < (lhs: LogPosition, rhs: LogPosition) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// The position directly after this one.
    public var next: LogPosition {
        precondition(rawValue < UInt64.max, "log position overflow")
        return LogPosition(rawValue: rawValue + 1)
    }

    /// The position as a decimal number.
    public var description: String { String(rawValue) }
}
