/// The 24-byte header in front of every record's payload (see docs/FORMAT.md).
///
/// The checksum is CRC-32C over the stored payload followed by the header's first 20 bytes, so a
/// damaged length, position or type is caught as surely as a damaged payload, and compressed
/// payloads are verified before they are decompressed.
///
/// Only this type knows the layout: everyone else reads a frame through its named offsets and
/// accessors, so the format has one definition in code besides the byte-level one in FORMAT.md.
package struct FrameHeader: Equatable {
    /// The header's size; the payload starts this many bytes after the frame's offset.
    package static let byteCount = 24
    /// The largest payload, stored or raw, that any frame may declare. A reader never allocates
    /// more than this for one record, whatever a damaged length field says.
    static let payloadBytesMax = 64 << 20
    static let flagCompressed: UInt8 = 1

    /// Offset of the u32 stored (on-disk) payload length.
    package static let storedLengthOffset = 0
    /// Offset of the u32 payload length after decompression.
    package static let rawLengthOffset = 4
    /// Offset of the u64 position.
    package static let positionOffset = 8
    /// Offset of the u8 record type.
    package static let typeOffset = 16
    /// Offset of the u8 flags.
    package static let flagsOffset = 17
    /// Offset of the u16 reserved field, which must be zero.
    package static let reservedOffset = 18
    /// Offset of the u32 checksum; the bytes before it are the ones it covers.
    package static let checksumOffset = 20

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
        target.storeLittleEndian(UInt32(storedLength), at: Self.storedLengthOffset)
        target.storeLittleEndian(UInt32(rawLength), at: Self.rawLengthOffset)
        target.storeLittleEndian(position.rawValue, at: Self.positionOffset)
        target.storeLittleEndian(type, at: Self.typeOffset)
        target.storeLittleEndian(flags, at: Self.flagsOffset)
        target.storeLittleEndian(UInt16(0), at: Self.reservedOffset)
        let checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: target[..<Self.checksumOffset]), seed: payloadChecksum)
        target.storeLittleEndian(checksum, at: Self.checksumOffset)
        assert(Self.storedChecksum(in: UnsafeRawBufferPointer(target)) == checksum)
        return checksum
    }

    /// Why the 24 bytes at `raw` cannot start a frame, or nil when the fields are plausible.
    /// `bytesAfterHeader` bounds the declared length before anything is allocated or read.
    static func implausibility(of raw: UnsafeRawBufferPointer, bytesAfterHeader: Int) -> String? {
        precondition(raw.count == byteCount)
        let stored = storedLength(in: raw)
        let rawLength = Int(raw.loadLittleEndian(at: rawLengthOffset, as: UInt32.self))
        let flags = raw.loadLittleEndian(at: flagsOffset, as: UInt8.self)
        if stored > payloadBytesMax { return "stored length \(stored) exceeds the format maximum \(payloadBytesMax)" }
        if stored > bytesAfterHeader { return "stored length \(stored) runs past the end of the file (\(bytesAfterHeader) bytes left)" }
        if rawLength > payloadBytesMax { return "raw length \(rawLength) exceeds the format maximum \(payloadBytesMax)" }
        if flags & ~flagCompressed != 0 { return "unknown flags \(flags)" }
        if flags & flagCompressed == 0 && rawLength != stored { return "uncompressed frame with raw length \(rawLength) != stored length \(stored)" }
        if raw.loadLittleEndian(at: reservedOffset, as: UInt16.self) != 0 { return "reserved field is not zero" }
        if position(in: raw).rawValue == 0 { return "position is 0" }
        return nil
    }

    /// Parses a header whose fields passed ``implausibility(of:bytesAfterHeader:)``.
    init(parsing raw: UnsafeRawBufferPointer) {
        precondition(Self.implausibility(of: raw, bytesAfterHeader: Self.payloadBytesMax) == nil)
        storedLength = Self.storedLength(in: raw)
        rawLength = Int(raw.loadLittleEndian(at: Self.rawLengthOffset, as: UInt32.self))
        position = Self.position(in: raw)
        type = raw.loadLittleEndian(at: Self.typeOffset, as: UInt8.self)
        flags = raw.loadLittleEndian(at: Self.flagsOffset, as: UInt8.self)
        assert(frameLength <= Self.byteCount + Self.payloadBytesMax)
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
        precondition(raw.count >= byteCount)
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<checksumOffset]), seed: CRC32C.checksum(payload))
    }

    /// The stored payload length of the header at the start of `raw`, unchecked.
    package static func storedLength(in raw: UnsafeRawBufferPointer) -> Int {
        precondition(raw.count >= byteCount)
        return Int(raw.loadLittleEndian(at: storedLengthOffset, as: UInt32.self))
    }

    /// The position of the header at the start of `raw`, unchecked.
    package static func position(in raw: UnsafeRawBufferPointer) -> LogPosition {
        precondition(raw.count >= byteCount)
        return LogPosition(rawValue: raw.loadLittleEndian(at: positionOffset, as: UInt64.self))
    }

    /// The checksum stored in the header at the start of `raw`, unchecked.
    package static func storedChecksum(in raw: UnsafeRawBufferPointer) -> UInt32 {
        precondition(raw.count >= byteCount)
        return raw.loadLittleEndian(at: checksumOffset, as: UInt32.self)
    }
}
