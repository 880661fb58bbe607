/// The checks every reader of frames applies, in one place: the sequential scan
/// (``SegmentScanner``: open, compaction, cursors) and the lookup by position
/// (``FrameWindowReader``) differ only in how they buffer the file and report a problem.
enum FrameCheck {
    /// The header at the start of `raw`, or why those bytes cannot start a frame with
    /// `bytesAfterHeader` bytes left in the file (checked before anything is allocated or read).
    static func header(in raw: UnsafeRawBufferPointer, bytesAfterHeader: Int) -> Result<FrameHeader, Problem> {
        precondition(raw.count >= FrameHeader.byteCount && bytesAfterHeader >= 0)
        let bytes = UnsafeRawBufferPointer(rebasing: raw[..<FrameHeader.byteCount])
        if let problem = FrameHeader.implausibility(of: bytes, bytesAfterHeader: bytesAfterHeader) {
            return .failure(Problem(reason: problem))
        }
        let header = FrameHeader(parsing: bytes)
        assert(header.storedLength <= bytesAfterHeader)
        return .success(header)
    }

    /// The checksum of the whole frame at the start of `raw`, whose header is `header`, or the
    /// mismatch between the stored one and its contents.
    static func checksum(ofFrame raw: UnsafeRawBufferPointer, header: FrameHeader) -> Result<UInt32, Problem> {
        precondition(raw.count >= header.frameLength)
        let headerBytes = UnsafeRawBufferPointer(rebasing: raw[..<FrameHeader.byteCount])
        let payload = UnsafeRawBufferPointer(rebasing: raw[FrameHeader.byteCount..<header.frameLength])
        let stored = FrameHeader.storedChecksum(in: headerBytes)
        let expected = FrameHeader.expectedChecksum(header: headerBytes, payload: payload)
        guard stored == expected else {
            return .failure(Problem(reason: "checksum mismatch: frame says \(hex(stored)), contents give \(hex(expected))"))
        }
        return .success(stored)
    }

    /// The payload of a checked frame, its stored bytes `stored` decompressed if need be; nil
    /// when a compressed payload does not decompress to the raw length (``undecompressible``).
    static func payload(stored: UnsafeRawBufferPointer, header: FrameHeader) -> [UInt8]? {
        precondition(stored.count == header.storedLength)
        guard header.isCompressed else { return [UInt8](stored) }
        let payload = LZ4.decompress(stored, rawCount: header.rawLength)
        assert(payload.map { $0.count == header.rawLength } ?? true)
        return payload
    }

    /// Why a checksum-valid frame's payload could not be read.
    static func undecompressible(_ header: FrameHeader) -> String {
        "checksum is valid but the LZ4 payload does not decompress to \(header.rawLength) bytes"
    }

    /// Why bytes are not a valid frame.
    struct Problem: Error {
        let reason: String
    }
}
