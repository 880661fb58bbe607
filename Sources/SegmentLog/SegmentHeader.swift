/// The 40-byte header at the start of every segment file (see docs/FORMAT.md).
struct SegmentHeader: Equatable {
    static let byteCount = 40
    static let magic: [UInt8] = Array("ASCHDLOG".utf8)
    static let formatVersion: UInt32 = 1

    /// The segment's id; its file name is this id in 16 hex digits.
    var segmentId: UInt64
    /// Every frame in the segment has a position at or after this one; an empty last segment
    /// says here which position comes next.
    var firstPosition: LogPosition
    /// The chain value of the log up to the end of the segment before this one.
    var previousChain: UInt32

    func encoded() -> [UInt8] {
        precondition(segmentId > 0 && firstPosition.rawValue > 0)
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        bytes.withUnsafeMutableBytes { raw in
            raw.copyBytes(from: Self.magic)
            raw.storeLittleEndian(Self.formatVersion, at: 8)
            raw.storeLittleEndian(UInt32(Self.byteCount), at: 12)
            raw.storeLittleEndian(segmentId, at: 16)
            raw.storeLittleEndian(firstPosition.rawValue, at: 24)
            raw.storeLittleEndian(previousChain, at: 32)
            let checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<36]))
            raw.storeLittleEndian(checksum, at: 36)
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
            let stored = raw.loadLittleEndian(at: 36, as: UInt32.self)
            let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<36]))
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
            let header = SegmentHeader(
                segmentId: raw.loadLittleEndian(at: 16, as: UInt64.self),
                firstPosition: LogPosition(rawValue: raw.loadLittleEndian(at: 24, as: UInt64.self)),
                previousChain: raw.loadLittleEndian(at: 32, as: UInt32.self))
            guard header.segmentId > 0, header.firstPosition.rawValue > 0 else {
                throw SegmentLogError.corruptSegmentHeader(file: file, reason: "segment id or first position is 0")
            }
            return header
        }
    }
}
