/// The 24-byte header in front of every record's payload (see docs/FORMAT.md).
///
/// The checksum is CRC-32C over the stored payload followed by the header's first 20 bytes, so a
/// damaged length, position or type is caught as surely as a damaged payload, and compressed
/// payloads are verified before they are decompressed.
struct FrameHeader: Equatable {
    static let byteCount = 24
    /// The largest payload, stored or raw, that any frame may declare. A reader never allocates
    /// more than this for one record, whatever a damaged length field says.
    static let payloadBytesMax = 64 << 20
    static let flagCompressed: UInt8 = 1

    var storedLength: Int
    var rawLength: Int
    var position: LogPosition
    var type: UInt8
    var flags: UInt8

    var isCompressed: Bool { flags & Self.flagCompressed != 0 }
    var frameLength: Int { Self.byteCount + storedLength }

    /// Writes the header into `target` (24 bytes), sealing it with the checksum; returns it.
    func store(into target: UnsafeMutableRawBufferPointer, payloadChecksum: UInt32) -> UInt32 {
        precondition(target.count == Self.byteCount)
        precondition(storedLength <= Self.payloadBytesMax && rawLength <= Self.payloadBytesMax)
        precondition(position.rawValue > 0 && flags & ~Self.flagCompressed == 0)
        target.storeLittleEndian(UInt32(storedLength), at: 0)
        target.storeLittleEndian(UInt32(rawLength), at: 4)
        target.storeLittleEndian(position.rawValue, at: 8)
        target.storeLittleEndian(type, at: 16)
        target.storeLittleEndian(flags, at: 17)
        target.storeLittleEndian(UInt16(0), at: 18)
        let checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: target[0..<20]), seed: payloadChecksum)
        target.storeLittleEndian(checksum, at: 20)
        return checksum
    }

    /// Why the 24 bytes at `raw` cannot start a frame, or nil when the fields are plausible.
    /// `bytesAfterHeader` bounds the declared length before anything is allocated or read.
    static func implausibility(of raw: UnsafeRawBufferPointer, bytesAfterHeader: Int) -> String? {
        precondition(raw.count == byteCount)
        let stored = Int(raw.loadLittleEndian(at: 0, as: UInt32.self))
        let rawLength = Int(raw.loadLittleEndian(at: 4, as: UInt32.self))
        let flags = raw.loadLittleEndian(at: 17, as: UInt8.self)
        if stored > payloadBytesMax { return "stored length \(stored) exceeds the format maximum \(payloadBytesMax)" }
        if stored > bytesAfterHeader { return "stored length \(stored) runs past the end of the file (\(bytesAfterHeader) bytes left)" }
        if rawLength > payloadBytesMax { return "raw length \(rawLength) exceeds the format maximum \(payloadBytesMax)" }
        if flags & ~flagCompressed != 0 { return "unknown flags \(flags)" }
        if flags & flagCompressed == 0 && rawLength != stored { return "uncompressed frame with raw length \(rawLength) != stored length \(stored)" }
        if raw.loadLittleEndian(at: 18, as: UInt16.self) != 0 { return "reserved field is not zero" }
        if raw.loadLittleEndian(at: 8, as: UInt64.self) == 0 { return "position is 0" }
        return nil
    }

    /// Parses a header whose fields passed ``implausibility(of:bytesAfterHeader:)``.
    init(parsing raw: UnsafeRawBufferPointer) {
        precondition(Self.implausibility(of: raw, bytesAfterHeader: Self.payloadBytesMax) == nil)
        storedLength = Int(raw.loadLittleEndian(at: 0, as: UInt32.self))
        rawLength = Int(raw.loadLittleEndian(at: 4, as: UInt32.self))
        position = LogPosition(rawValue: raw.loadLittleEndian(at: 8, as: UInt64.self))
        type = raw.loadLittleEndian(at: 16, as: UInt8.self)
        flags = raw.loadLittleEndian(at: 17, as: UInt8.self)
    }

    init(storedLength: Int, rawLength: Int, position: LogPosition, type: UInt8, flags: UInt8) {
        self.storedLength = storedLength
        self.rawLength = rawLength
        self.position = position
        self.type = type
        self.flags = flags
    }

    /// The checksum the frame whose header is `raw` and payload `payload` should carry.
    static func expectedChecksum(header raw: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> UInt32 {
        CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<20]), seed: CRC32C.checksum(payload))
    }
}
