/// A payload compressed (when that pays) and checksummed by the appending task, before it
/// takes the writer's lock.
struct PreparedPayload: Sendable {
    let type: UInt8
    let flags: UInt8
    let stored: [UInt8]
    let rawLength: Int
    let checksum: UInt32

    init(_ entry: LogEntry, compression: Compression) {
        precondition(entry.payload.count <= FrameHeader.payloadBytesMax)
        type = entry.type
        rawLength = entry.payload.count
        if case .lz4(let threshold) = compression, entry.payload.count >= threshold,
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
