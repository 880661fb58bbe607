/// A frame that passed its checks, as found by ``SegmentScanner``.
struct ScannedFrame {
    let header: FrameHeader
    /// Offset of the frame's header in the segment file.
    let offset: Int
    let checksum: UInt32
}
