/// Reads one segment file's frames in order, through a bounded buffer, checking each frame's
/// fields and checksum before its payload is used.
struct SegmentScanner {
    enum Step {
        case frame(ScannedFrame)
        /// The file ends exactly after the previous frame.
        case end
        /// The bytes at ``SegmentScanner/offset`` are not a valid frame.
        case invalid(reason: String)
    }

    /// Damage found in a frame that passed its checks, or in the file itself; the cursor turns it
    /// into an error per ``RecoveryDecision``'s table.
    struct Failure: Error {
        let damage: LogDamage
        let offset: Int
        let reason: String
    }

    static let chunkBytes = 1 << 20

    let file: any OpenFile
    let fileName: String
    let fileSize: Int
    /// Offset of the next frame.
    private(set) var offset: Int
    private var buffer: [UInt8] = []
    private var bufferOffset = 0

    init(file: any OpenFile, fileName: String, fileSize: Int, startOffset: Int) {
        precondition(startOffset <= fileSize)
        self.file = file
        self.fileName = fileName
        self.fileSize = fileSize
        self.offset = startOffset
    }

    mutating func next() throws -> Step {
        let remaining = fileSize - offset
        if remaining == 0 { return .end }
        guard remaining >= FrameHeader.byteCount else {
            return .invalid(reason: "only \(remaining) bytes left, less than a frame header")
        }
        try fill(offset, count: FrameHeader.byteCount)
        let start = offset - bufferOffset
        let checkedHeader = buffer.withUnsafeBytes {
            FrameCheck.header(in: UnsafeRawBufferPointer(rebasing: $0[start...]), bytesAfterHeader: remaining - FrameHeader.byteCount)
        }
        let header: FrameHeader
        switch checkedHeader {
        case .success(let checked): header = checked
        case .failure(let problem): return .invalid(reason: problem.reason)
        }
        try fill(offset, count: header.frameLength)
        let frameStart = offset - bufferOffset
        let checksum = buffer.withUnsafeBytes {
            FrameCheck.checksum(ofFrame: UnsafeRawBufferPointer(rebasing: $0[frameStart...]), header: header)
        }
        let stored: UInt32
        switch checksum {
        case .success(let value): stored = value
        case .failure(let problem): return .invalid(reason: problem.reason)
        }
        let frame = ScannedFrame(header: header, offset: offset, checksum: stored)
        offset += header.frameLength
        assert(offset <= fileSize)
        return .frame(frame)
    }

    /// The payload of `frame`, the frame most recently returned by ``next()``, decompressed.
    func payload(of frame: ScannedFrame) throws -> [UInt8] {
        let start = frame.offset - bufferOffset + FrameHeader.byteCount
        precondition(start >= 0 && start + frame.header.storedLength <= buffer.count, "frame is no longer buffered")
        let payload = buffer.withUnsafeBytes { raw in
            FrameCheck.payload(stored: UnsafeRawBufferPointer(rebasing: raw[start..<start + frame.header.storedLength]),
                               header: frame.header)
        }
        guard let payload else {
            throw Failure(damage: .undecompressiblePayload, offset: frame.offset, reason: FrameCheck.undecompressible(frame.header))
        }
        assert(payload.count == frame.header.rawLength)
        return payload
    }

    /// Makes file bytes `start ..< start + count` available in the buffer.
    private mutating func fill(_ start: Int, count: Int) throws {
        precondition(count <= FrameHeader.byteCount + FrameHeader.payloadBytesMax && start + count <= fileSize)
        if start >= bufferOffset && start + count <= bufferOffset + buffer.count { return }
        let want = min(max(count, Self.chunkBytes), fileSize - start)
        buffer = try file.read(count: want, at: start)
        bufferOffset = start
        guard buffer.count >= count else {
            throw Failure(damage: .fileShrank, offset: start,
                          reason: "file shrank while being read (\(buffer.count) of \(count) bytes)")
        }
    }
}
