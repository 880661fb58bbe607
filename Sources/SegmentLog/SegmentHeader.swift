/// The 56-byte header at the start of every segment file (see docs/FORMAT.md).
///
/// Only this type knows the layout: everyone else names a header field by its offset constant.
package struct SegmentHeader: Equatable {
    /// The header's size; the first frame starts at this offset.
    package static let byteCount = 56
    static let flagCompacted: UInt32 = 1
    /// Set (with ``flagCompacted``) by selective compaction, whose segments lack the dropped
    /// records below the replay floor: a build that knows no floor refuses the segment (unknown
    /// flag) instead of folding history with gaps into a wrong state.
    static let flagDroppedBelowFloor: UInt32 = 2
    static let magic: [UInt8] = Array("ASCHDLOG".utf8)
    static let formatVersion: UInt32 = 1

    /// Offset of the u32 format version (bytes 0..<8 are the magic).
    package static let versionOffset = 8
    /// Offset of the u32 header length.
    package static let headerLengthOffset = 12
    /// Offset of the u64 segment id.
    package static let segmentIdOffset = 16
    /// Offset of the u64 first position.
    package static let firstPositionOffset = 24
    /// Offset of the u32 chain value the segment continues from.
    package static let previousChainOffset = 32
    /// Offset of the u32 chain value a compacted segment stands in for.
    package static let endChainOffset = 36
    /// Offset of the u64 first replaced segment id.
    package static let firstReplacedIdOffset = 40
    /// Offset of the u32 flags.
    package static let flagsOffset = 48
    /// Offset of the u32 CRC; the bytes before it are the ones it covers.
    package static let checksumOffset = 52

    /// The segment's id; its file name is this id in 16 hex digits.
    var segmentId: UInt64
    /// Every frame in the segment has a position at or after this one; an empty last segment
    /// says here which position comes next.
    var firstPosition: LogPosition
    /// The chain value of the log up to the end of the segment before this one.
    var previousChain: UInt32
    /// For a segment written by compaction: it stands in for the segments from this id up to
    /// its own, and ``endChain`` is the chain value they ended with. Nil for an ordinary segment.
    var replacement: Replacement?

    struct Replacement: Equatable {
        var firstReplacedSegmentId: UInt64
        var endChain: UInt32
        /// Written by selective compaction: records below the replay floor were dropped.
        var droppedBelowFloor = false
    }

    init(segmentId: UInt64, firstPosition: LogPosition, previousChain: UInt32, replacement: Replacement? = nil) {
        self.segmentId = segmentId
        self.firstPosition = firstPosition
        self.previousChain = previousChain
        self.replacement = replacement
    }

    /// The chain value the next segment continues from, given the chain after this segment's frames.
    func chainAfter(frames chain: UInt32) -> UInt32 {
        replacement?.endChain ?? chain
    }

    func encoded() -> [UInt8] {
        precondition(segmentId > 0 && firstPosition.rawValue > 0)
        precondition(replacement.map { $0.firstReplacedSegmentId <= segmentId && $0.firstReplacedSegmentId > 0 } ?? true)
        assert(Self.checksumOffset + MemoryLayout<UInt32>.size == Self.byteCount, "the CRC ends the header")
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        bytes.withUnsafeMutableBytes { raw in
            raw.copyBytes(from: Self.magic)
            raw.storeLittleEndian(Self.formatVersion, at: Self.versionOffset)
            raw.storeLittleEndian(UInt32(Self.byteCount), at: Self.headerLengthOffset)
            raw.storeLittleEndian(segmentId, at: Self.segmentIdOffset)
            raw.storeLittleEndian(firstPosition.rawValue, at: Self.firstPositionOffset)
            raw.storeLittleEndian(previousChain, at: Self.previousChainOffset)
            raw.storeLittleEndian(replacement?.endChain ?? 0, at: Self.endChainOffset)
            raw.storeLittleEndian(replacement?.firstReplacedSegmentId ?? segmentId, at: Self.firstReplacedIdOffset)
            let dropped = replacement?.droppedBelowFloor == true ? Self.flagDroppedBelowFloor : 0
            raw.storeLittleEndian(replacement == nil ? 0 : Self.flagCompacted | dropped, at: Self.flagsOffset)
            let checksum = Self.computedChecksum(of: UnsafeRawBufferPointer(raw))
            raw.storeLittleEndian(checksum, at: Self.checksumOffset)
        }
        assert((try? Self.decode(bytes, file: "")) == self, "segment header does not round-trip")
        return bytes
    }

    /// Parses and checks a header read from `file`.
    static func decode(_ bytes: [UInt8], file: String) throws -> SegmentHeader {
        guard bytes.count >= byteCount else {
            throw SegmentLogError.corruptSegmentHeader(
                file: file, reason: "file is \(bytes.count) bytes, shorter than the \(byteCount)-byte header")
        }
        return try bytes.withUnsafeBytes { raw in
            guard Array(raw[..<versionOffset]) == magic else {
                throw SegmentLogError.corruptSegmentHeader(
                    file: file, reason: "magic is \(Array(raw[..<versionOffset])), expected \"ASCHDLOG\"; not a segment file")
            }
            // Every version keeps magic, version and header length first, so a newer version
            // is told apart from a damaged header by its checksum (when its header is this size).
            let version = raw.loadLittleEndian(at: versionOffset, as: UInt32.self)
            let length = raw.loadLittleEndian(at: headerLengthOffset, as: UInt32.self)
            let stored = raw.loadLittleEndian(at: checksumOffset, as: UInt32.self)
            let computed = computedChecksum(of: raw)
            if version != formatVersion {
                guard length > UInt32(byteCount) || stored == computed else {
                    throw SegmentLogError.corruptSegmentHeader(
                        file: file, reason: "header checksum is \(hex(stored)), computed \(hex(computed)) (version field reads \(version))")
                }
                throw SegmentLogError.unsupportedFormatVersion(file: file, found: version, supported: formatVersion)
            }
            guard stored == computed else {
                throw SegmentLogError.corruptSegmentHeader(
                    file: file, reason: "header checksum is \(hex(stored)), computed \(hex(computed))")
            }
            guard length == UInt32(byteCount) else {
                throw SegmentLogError.corruptSegmentHeader(
                    file: file, reason: "header length field is \(length), expected \(byteCount)")
            }
            let flags = raw.loadLittleEndian(at: flagsOffset, as: UInt32.self)
            guard flags & ~(flagCompacted | flagDroppedBelowFloor) == 0 else {
                throw SegmentLogError.corruptSegmentHeader(file: file, reason: "unknown header flags \(flags)")
            }
            guard flags & flagDroppedBelowFloor == 0 || flags & flagCompacted != 0 else {
                throw SegmentLogError.corruptSegmentHeader(file: file, reason: "header flags \(flags): bit 1 without bit 0")
            }
            let segmentId = raw.loadLittleEndian(at: segmentIdOffset, as: UInt64.self)
            let firstReplaced = raw.loadLittleEndian(at: firstReplacedIdOffset, as: UInt64.self)
            let header = SegmentHeader(
                segmentId: segmentId,
                firstPosition: LogPosition(rawValue: raw.loadLittleEndian(at: firstPositionOffset, as: UInt64.self)),
                previousChain: raw.loadLittleEndian(at: previousChainOffset, as: UInt32.self),
                replacement: flags & flagCompacted == 0 ? nil
                    : Replacement(firstReplacedSegmentId: firstReplaced, endChain: raw.loadLittleEndian(at: endChainOffset, as: UInt32.self),
                                  droppedBelowFloor: flags & flagDroppedBelowFloor != 0))
            guard header.segmentId > 0, header.firstPosition.rawValue > 0 else {
                throw SegmentLogError.corruptSegmentHeader(file: file, reason: "segment id or first position is 0")
            }
            guard firstReplaced > 0 && firstReplaced <= segmentId && (header.replacement != nil || firstReplaced == segmentId) else {
                throw SegmentLogError.corruptSegmentHeader(
                    file: file, reason: "replaced segment range \(firstReplaced)...\(segmentId) is invalid")
            }
            return header
        }
    }

    /// The CRC the header at the start of `raw` should carry: over the bytes before the CRC field.
    package static func computedChecksum(of raw: UnsafeRawBufferPointer) -> UInt32 {
        precondition(raw.count >= byteCount)
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<checksumOffset]))
    }
}
