/// The 56-byte header at the start of every segment file (see docs/FORMAT.md).
struct SegmentHeader: Equatable {
    static let byteCount = 56
    static let flagCompacted: UInt32 = 1
    static let magic: [UInt8] = Array("ASCHDLOG".utf8)
    static let formatVersion: UInt32 = 1

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
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        bytes.withUnsafeMutableBytes { raw in
            raw.copyBytes(from: Self.magic)
            raw.storeLittleEndian(Self.formatVersion, at: 8)
            raw.storeLittleEndian(UInt32(Self.byteCount), at: 12)
            raw.storeLittleEndian(segmentId, at: 16)
            raw.storeLittleEndian(firstPosition.rawValue, at: 24)
            raw.storeLittleEndian(previousChain, at: 32)
            raw.storeLittleEndian(replacement?.endChain ?? 0, at: 36)
            raw.storeLittleEndian(replacement?.firstReplacedSegmentId ?? segmentId, at: 40)
            raw.storeLittleEndian(replacement == nil ? 0 : Self.flagCompacted, at: 48)
            let checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<52]))
            raw.storeLittleEndian(checksum, at: 52)
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
            guard Array(raw[0..<8]) == magic else {
                throw SegmentLogError.corruptSegmentHeader(
                    file: file, reason: "magic is \(Array(raw[0..<8])), expected \"ASCHDLOG\"; not a segment file")
            }
            // Every version keeps magic, version and header length first, so a newer version
            // is told apart from a damaged header by its checksum (when its header is this size).
            let version = raw.loadLittleEndian(at: 8, as: UInt32.self)
            let length = raw.loadLittleEndian(at: 12, as: UInt32.self)
            let stored = raw.loadLittleEndian(at: 52, as: UInt32.self)
            let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<52]))
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
            let flags = raw.loadLittleEndian(at: 48, as: UInt32.self)
            guard flags & ~flagCompacted == 0 else {
                throw SegmentLogError.corruptSegmentHeader(file: file, reason: "unknown header flags \(flags)")
            }
            let segmentId = raw.loadLittleEndian(at: 16, as: UInt64.self)
            let firstReplaced = raw.loadLittleEndian(at: 40, as: UInt64.self)
            let header = SegmentHeader(
                segmentId: segmentId,
                firstPosition: LogPosition(rawValue: raw.loadLittleEndian(at: 24, as: UInt64.self)),
                previousChain: raw.loadLittleEndian(at: 32, as: UInt32.self),
                replacement: flags & flagCompacted == 0 ? nil
                    : Replacement(firstReplacedSegmentId: firstReplaced, endChain: raw.loadLittleEndian(at: 36, as: UInt32.self)))
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
}
