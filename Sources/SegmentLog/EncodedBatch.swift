/// Frames ready to be written in one go: their bytes back to back, and where each ends.
struct EncodedBatch {
    struct Frame {
        /// Offset in ``EncodedBatch/bytes`` just past this frame.
        let end: Int
        let position: LogPosition
        let checksum: UInt32
    }

    var bytes: [UInt8] = []
    var frames: [Frame] = []

    var isEmpty: Bool { frames.isEmpty }
    var lastPosition: LogPosition? { frames.last?.position }

    /// Appends one frame for `payload` (already compressed if `flags` say so), whose
    /// checksum `payloadChecksum` was computed outside any lock.
    mutating func append(position: LogPosition, type: UInt8, flags: UInt8, payload: [UInt8],
                         rawLength: Int, payloadChecksum: UInt32) {
        precondition(frames.last.map { $0.position < position } ?? true, "positions must increase in a batch")
        let header = FrameHeader(storedLength: payload.count, rawLength: rawLength, position: position,
                                 type: type, flags: flags)
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: FrameHeader.byteCount))
        let checksum = bytes.withUnsafeMutableBytes { raw in
            header.store(into: UnsafeMutableRawBufferPointer(rebasing: raw[start..<start + FrameHeader.byteCount]),
                         payloadChecksum: payloadChecksum)
        }
        bytes.append(contentsOf: payload)
        frames.append(Frame(end: bytes.count, position: position, checksum: checksum))
        assert(bytes.count - start == header.frameLength)
    }
}
