/// Bytes at the end of the last segment that do not form valid records: what a crash during an
/// unsynced write leaves behind. Opening the log for writing cuts them off.
public struct TornTail: Sendable, Equatable, CustomStringConvertible {
    /// The segment file's name.
    public let segmentFileName: String
    /// Where the first invalid byte is; every record before it was kept.
    public let offset: Int
    /// How many bytes were dropped: from `offset` through the last non-zero byte after it.
    public let discardedBytes: Int
    /// What was wrong with the bytes at `offset`.
    public let reason: String

    /// A one-line summary: what was dropped, where, and why.
    public var description: String {
        "dropped \(discardedBytes) bytes of torn tail in \(segmentFileName) at offset \(offset) (\(reason))"
    }

    /// What the bytes from an invalid frame to the end of its file are.
    enum Contents: Equatable {
        case zeros
        case frameCompletedSinceRead
        /// A valid record with a later position starts at this file offset.
        case damageBeforeValidRecord(at: Int)
        /// `discardedBytes`: from the invalid frame through the last non-zero byte.
        case torn(discardedBytes: Int)

        /// The kind of damage in ``RecoveryDecision``'s table these contents are.
        var damage: LogDamage {
            switch self {
            case .zeros: return .zeroFilledTail
            case .frameCompletedSinceRead: return .frameCompletedSinceRead
            case .damageBeforeValidRecord: return .invalidFrameBeforeValidRecord
            case .torn: return .tornFrame
            }
        }
    }

    /// Classifies the bytes of `file` from `offset` on, after an invalid frame at `offset`; what
    /// that leads to is ``RecoveryDecision``'s to say.
    static func classify(file: any OpenFile, fileSize: Int, offset: Int, lastPosition: LogPosition) throws -> Contents {
        precondition(offset >= SegmentHeader.byteCount && offset < fileSize)
        guard let end = try endOfNonZeroBytes(in: file, from: offset, to: fileSize) else { return .zeros }
        assert(end > offset && end <= fileSize)
        // Read a little past the last non-zero byte, since a valid frame may end in zeros; not
        // the whole rest, since a preallocated tail of zeros can be the size of a segment.
        let rest = try file.read(count: min(fileSize, end + Self.trailingZerosBytesMax) - offset, at: offset)
        // Beside a live writer the frame may have been completed since it was read.
        if validFrame(at: 0, in: rest, after: lastPosition) { return .frameCompletedSinceRead }
        if let later = laterValidFrame(in: rest, after: lastPosition),
           !containsUnwrittenSector(rest[..<later], fileOffset: offset) {
            return .damageBeforeValidRecord(at: offset + later)
        }
        return .torn(discardedBytes: end - offset)
    }

    /// How far past the last non-zero byte a frame is looked for: a frame ending in more zeros
    /// than this would not be recognized (LZ4 leaves no such runs in compressed payloads).
    static let trailingZerosBytesMax = 64 << 10

    /// The offset just past the last non-zero byte of `file` in `start ..< end`, read a chunk at
    /// a time from the end; nil when they are all zero.
    private static func endOfNonZeroBytes(in file: any OpenFile, from start: Int, to end: Int) throws -> Int? {
        let chunkBytes = 1 << 20
        var chunkEnd = end
        while chunkEnd > start {
            let chunkStart = max(start, chunkEnd - chunkBytes)
            let chunk = try file.read(count: chunkEnd - chunkStart, at: chunkStart)
            if let last = chunk.lastIndex(where: { $0 != 0 }) { return chunkStart + last + 1 }
            chunkEnd = chunkStart
        }
        return nil
    }

    /// Whether `bytes` (at `fileOffset` in the file) hold a sector-aligned, all-zero sector: a
    /// page a crash kept from the disk while later pages of the same write got there. Then the
    /// valid frames after it are from that unfinished write, not proof of damage.
    private static func containsUnwrittenSector(_ bytes: ArraySlice<UInt8>, fileOffset: Int) -> Bool {
        let sectorBytes = 512
        var start = (fileOffset + sectorBytes - 1) / sectorBytes * sectorBytes - fileOffset
        while start + sectorBytes <= bytes.count {
            let sector = bytes[bytes.startIndex + start ..< bytes.startIndex + start + sectorBytes]
            if !sector.contains(where: { $0 != 0 }) { return true }
            start += sectorBytes
        }
        return false
    }

    /// The index in `bytes` of the first complete frame, past index 0, with a correct checksum
    /// and a position after `lastPosition`.
    private static func laterValidFrame(in bytes: [UInt8], after lastPosition: LogPosition) -> Int? {
        (1..<max(1, bytes.count - FrameHeader.byteCount + 1)).first { validFrame(at: $0, in: bytes, after: lastPosition) }
    }

    /// Whether a complete frame with a correct checksum and a position after `lastPosition`
    /// starts at `index` of `bytes`.
    private static func validFrame(at index: Int, in bytes: [UInt8], after lastPosition: LogPosition) -> Bool {
        guard index + FrameHeader.byteCount <= bytes.count else { return false }
        return bytes.withUnsafeBytes { raw in
            let header = UnsafeRawBufferPointer(rebasing: raw[index..<index + FrameHeader.byteCount])
            let left = raw.count - index - FrameHeader.byteCount
            guard FrameHeader.position(in: header) > lastPosition,
                  FrameHeader.implausibility(of: header, bytesAfterHeader: left) == nil else { return false }
            let stored = FrameHeader.storedLength(in: header)
            let payloadStart = index + FrameHeader.byteCount
            let payload = UnsafeRawBufferPointer(rebasing: raw[payloadStart..<payloadStart + stored])
            return FrameHeader.storedChecksum(in: header) == FrameHeader.expectedChecksum(header: header, payload: payload)
        }
    }
}
