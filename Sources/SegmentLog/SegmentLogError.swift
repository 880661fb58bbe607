import Glibc

/// Everything SegmentLog can report, each naming the file and offset involved and what to do.
public enum SegmentLogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// A frame's bytes are damaged where damage cannot be a torn write.
    case corruptFrame(file: String, offset: Int, reason: String)
    /// A segment's header is damaged or does not belong where it stands.
    case corruptSegmentHeader(file: String, reason: String)
    /// A segment was written by a format version this build cannot read.
    case unsupportedFormatVersion(file: String, found: UInt32, supported: UInt32)
    /// A segment does not continue the chain of the one before it: one is missing or replaced.
    case brokenChain(file: String, expected: UInt32, found: UInt32)
    /// Another process holds the directory's writer lock.
    case directoryLocked(lockFile: String, holder: String)
    /// `repair` found damage it must not cut: anywhere but the end of the last segment.
    case repairRefused(file: String, reason: String)
    /// The path is not a log directory.
    case notALogDirectory(path: String, reason: String)
    /// An append was larger than the configured maximum.
    case recordTooLarge(bytes: Int, max: Int)
    /// An earlier write or sync failed; the writer accepts nothing more. Reopen the log.
    case writerFailed(cause: String)
    /// The log was closed.
    case closed
    /// The `FLOOR` file is damaged; the log cannot be replayed without it.
    case corruptFloor(file: String, reason: String)
    /// The `FLOOR` file names a position after the log's last record: records the floor
    /// promised are missing.
    case floorBeyondLog(file: String, floor: LogPosition, lastPosition: LogPosition)
    /// ``SegmentLog/record(at:)`` found no record at the position.
    case noRecord(position: LogPosition, reason: String)

    /// What went wrong, naming the file (and offset) involved, and what to do.
    /// Whether this is a file or directory that was not there (`ENOENT`).
    var isMissingFile: Bool {
        if case .io(_, _, let code) = self { return code == ENOENT }
        return false
    }

    public var description: String {
        switch self {
        case .io(let operation, let path, let code):
            return "\(operation) failed on \(path): \(String(cString: strerror(code))) (errno \(code))"
        case .corruptFrame(let file, let offset, let reason):
            return "corrupt record in \(file) at offset \(offset): \(reason)"
        case .corruptSegmentHeader(let file, let reason):
            return "bad segment header in \(file): \(reason)"
        case .unsupportedFormatVersion(let file, let found, let supported):
            return "\(file) has log format version \(found); this build reads version \(supported) only. "
                + "Use the asched release that wrote it."
        case .brokenChain(let file, let expected, let found):
            return "segment chain broken at \(file) (offset 0): the log before it ends with chain value "
                + "\(hex(expected)) but its header continues from \(hex(found)); a segment before it is "
                + "missing or was replaced"
        case .directoryLocked(let lockFile, let holder):
            return "another writer holds \(lockFile) (\(holder)); stop it, or read the log with LogReader (asched inspect)"
        case .repairRefused(let file, let reason):
            return "repair refused at \(file): \(reason). Repair only cuts the end of the last segment; "
                + "damage elsewhere needs the log restored from a copy"
        case .notALogDirectory(let path, let reason):
            return "\(path) is not a log directory: \(reason)"
        case .recordTooLarge(let bytes, let max):
            return "record of \(bytes) bytes exceeds recordBytesMax (\(max) bytes)"
        case .writerFailed(let cause):
            return "the log writer stopped after a failed write or sync (\(cause)); appends not yet "
                + "acknowledged may or may not be in the log. Reopen the log to recover."
        case .closed:
            return "the log is closed"
        case .corruptFloor(let file, let reason):
            return "bad replay floor file \(file): \(reason). It holds the position of the last checkpoint, "
                + "which compaction relies on; restore the log directory from a copy"
        case .floorBeyondLog(let file, let floor, let lastPosition):
            return "\(file) sets the replay floor at position \(floor), but the log ends at \(lastPosition): "
                + "the records from the floor on are missing; restore the log directory from a copy"
        case .noRecord(let position, let reason):
            return "no record at position \(position): \(reason)"
        }
    }
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
