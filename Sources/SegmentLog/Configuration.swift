extension SegmentLog {
    /// Settings of a ``SegmentLog`` writer.
    ///
    /// ```swift
    /// var configuration = SegmentLog.Configuration()
    /// configuration.segmentSizeBytes = 16 << 20
    /// configuration.syncPolicy = .interval(.milliseconds(5))
    /// let log = try SegmentLog.open(directory: "/var/lib/asched", configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// A segment is sealed and a new one started once the next frame would not fit.
        /// A single frame larger than this still gets a segment of its own.
        public var segmentSizeBytes: Int = 64 << 20
        /// When appends are forced to stable storage.
        public var syncPolicy: SyncPolicy = .always
        /// How payloads are compressed.
        public var compression: Compression = .default
        /// The largest payload an append accepts; at most 64 MiB, the format's bound.
        public var recordBytesMax: Int = 16 << 20
        /// How segments get their blocks before appends reach them.
        public var preallocation: Preallocation = .zeroFill
        /// The file operations used; a simulated disk in tests.
        public var fileSystem: any FileSystem = PosixFileSystem()
        /// Where background work runs and the `interval` policy reads time; a deterministic
        /// simulated executor in seeded tests.
        public var executor: any LogExecutor = ThreadedLogExecutor()
        /// Called with the duration of every `fdatasync` of appended records (for metrics), on
        /// the writer's thread: keep it quick.
        public var onSync: (@Sendable (Duration) -> Void)?

        /// The defaults: 64 MiB segments, `always` sync, LZ4 from 128 bytes, zero-filled segments.
        public init() {}

        func validate() {
            precondition(segmentSizeBytes >= SegmentHeader.byteCount + FrameHeader.byteCount,
                         "segmentSizeBytes \(segmentSizeBytes) cannot hold a header and one frame")
            precondition(recordBytesMax > 0 && recordBytesMax <= FrameHeader.payloadBytesMax,
                         "recordBytesMax must be in 1...\(FrameHeader.payloadBytesMax)")
            switch compression {
            case .none: break
            case .lz4(let threshold), .lz4WhileCommitting(let threshold):
                precondition(threshold >= 0, "LZ4 threshold must not be negative")
            }
            if case .interval(let interval) = syncPolicy {
                precondition(interval > .zero, "sync interval must be positive")
            }
        }
    }
}
