/// A payload compressed (when that pays) and checksummed by the appending task, before it
/// takes the writer's lock.
struct PreparedPayload: Sendable {
    let type: UInt8
    let flags: UInt8
    let stored: [UInt8]
    let rawLength: Int
    let checksum: UInt32

    /// Compresses payloads of `compressionThreshold` bytes or more (none when nil).
    init(_ entry: LogEntry, compressionThreshold: Int?) {
        precondition(entry.payload.count <= FrameHeader.payloadBytesMax)
        precondition(compressionThreshold.map { $0 >= 0 } ?? true)
        type = entry.type
        rawLength = entry.payload.count
        if let compressionThreshold, entry.payload.count >= compressionThreshold,
           let compressed = LZ4.compress(entry.payload) {
            flags = FrameHeader.flagCompressed
            stored = compressed
        } else {
            flags = 0
            stored = entry.payload
        }
        checksum = CRC32C.checksum(stored)
    }
}
