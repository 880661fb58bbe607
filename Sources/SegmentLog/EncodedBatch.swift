/// Frames ready to be written in one go: their bytes back to back, and where each ends.
///
/// The one place prepared payloads become frame bytes: the group committer encodes appends with
/// it (compaction copies frames as stored, without re-encoding them).
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

    /// Appends one frame per payload, at consecutive positions from `first`; returns the
    /// position after the last one (`first` when `payloads` is empty).
    mutating func append(_ payloads: [PreparedPayload], from first: LogPosition) -> LogPosition {
        precondition(first.rawValue > 0, "position 0 is not a record's")
        let framesBefore = frames.count
        // Sized at once for a fresh batch (a bulk append fills it alone), sparing the copies of
        // regrowth; a batch that grows by many appends keeps the array's doubling.
        if bytes.isEmpty {
            bytes.reserveCapacity(payloads.reduce(0) { $0 + FrameHeader.byteCount + $1.stored.count })
            frames.reserveCapacity(payloads.count)
        }
        var position = first
        for payload in payloads {
            append(payload, at: position)
            position = position.next
        }
        assert(frames.count - framesBefore == payloads.count)
        return position
    }

    /// Appends one frame for `payload` (compressed and checksummed outside any lock).
    private mutating func append(_ payload: PreparedPayload, at position: LogPosition) {
        precondition(frames.last.map { $0.position < position } ?? true, "positions must increase in a batch")
        let header = FrameHeader(storedLength: payload.stored.count, rawLength: payload.rawLength, position: position,
                                 type: payload.type, flags: payload.flags)
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: FrameHeader.byteCount))
        let checksum = bytes.withUnsafeMutableBytes { raw in
            header.store(into: UnsafeMutableRawBufferPointer(rebasing: raw[start..<start + FrameHeader.byteCount]),
                         payloadChecksum: payload.checksum)
        }
        bytes.append(contentsOf: payload.stored)
        frames.append(Frame(end: bytes.count, position: position, checksum: checksum))
        assert(bytes.count - start == header.frameLength)
    }
}
