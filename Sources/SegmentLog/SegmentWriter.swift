/// Writes encoded batches into the current segment, sealing it and starting the next one when
/// a frame would not fit. Used only on the group committer's queue.
final class SegmentWriter {
    private let fileSystem: any FileSystem
    private let directory: String
    private let segmentSizeBytes: Int
    private let preallocation: Preallocation
    private let preallocator: SegmentPreallocator?
    private var file: any OpenFile
    /// The segment being appended to.
    private(set) var segmentId: UInt64
    private var writeOffset: Int
    /// Where ``prepareNextIfHalfWritten()`` starts preparing the next segment.
    private var prepareNextAtOffset: Int
    /// Bytes of the segments before this one, all sealed (compaction's changes not included).
    private var sealedBytes: Int
    /// The chain value over every frame written so far.
    private(set) var chain: UInt32
    private(set) var writes = 0
    private(set) var syncs = 0
    private(set) var segmentsCreated = 0

    /// Continues the segment `segment` at `writeOffset`.
    init(fileSystem: any FileSystem, directory: String, segmentSizeBytes: Int,
         preallocation: Preallocation, segment: SegmentFile, writeOffset: Int, chain: UInt32, sealedBytes: Int,
         executor: any LogExecutor) throws {
        precondition(writeOffset >= SegmentHeader.byteCount)
        precondition(sealedBytes >= 0)
        self.sealedBytes = sealedBytes
        self.fileSystem = fileSystem
        self.directory = directory
        self.segmentSizeBytes = segmentSizeBytes
        self.preallocation = preallocation
        self.preallocator = preallocation == .zeroFill
            ? SegmentPreallocator(fileSystem: fileSystem, directory: directory, sizeBytes: segmentSizeBytes, executor: executor)
            : nil
        self.file = try fileSystem.openFile(at: segment.path, mode: .readWrite)
        self.segmentId = segment.segmentId
        self.writeOffset = writeOffset
        self.prepareNextAtOffset = Self.halfOfRoom(from: writeOffset, segmentSizeBytes: segmentSizeBytes)
        self.chain = chain
        switch preallocation {
        case .none: break
        case .allocate: try file.preallocate(upTo: segmentSizeBytes)
        case .zeroFill:
            try file.writeZeros(from: writeOffset, to: segmentSizeBytes)
            // Zeros on disk before the first append, so appends never grow the file.
            try file.synchronizeData()
        }
    }

    /// Starts preparing the next segment once half the room this segment had when this writer
    /// took it over (at open or at a roll) is written. Not sooner: zero-filling a segment floods
    /// the disk for a fraction of a second, slowing every sync meanwhile 10-100x, and an open
    /// would start one at once, just as a restarted daemon begins to drain a backlog (its first
    /// syncs). A log that is never appended to much never pays for it; one that fills its segment
    /// before the preparation is done rolls onto an allocated file instead.
    private func prepareNextIfHalfWritten() {
        guard let preallocator, writeOffset >= prepareNextAtOffset else { return }
        preallocator.prepare()
    }

    /// Creates a segment, named and durable: from `prepared` (a zero-filled file) when given,
    /// else a new file allocated to `preallocateBytes` when given.
    static func createSegment(fileSystem: any FileSystem, directory: String, header: SegmentHeader,
                              prepared: String?, preallocateBytes: Int?) throws -> any OpenFile {
        precondition(header.replacement == nil, "compacted segments are written by compaction")
        return try DurableFileCreation.create(named: SegmentFileName.name(for: header.segmentId), in: directory,
                                              fileSystem: fileSystem, from: prepared) { file in
            try file.write(header.encoded(), at: 0)
            // The creation's sync makes the allocated size durable along with the header.
            if prepared == nil, let preallocateBytes { try file.preallocate(upTo: preallocateBytes) }
        }
    }

    /// Bytes of the log's segments as written: headers and frames, no preallocated space.
    var logBytes: Int { sealedBytes + writeOffset }

    /// Writes `batch`, rolling to new segments where frames would not fit.
    func write(_ batch: EncodedBatch) throws {
        precondition(!batch.isEmpty)
        var rangeStart = 0
        var frameStart = 0
        for frame in batch.frames {
            let pendingBytes = frameStart - rangeStart
            let segmentHasFrames = writeOffset + pendingBytes > SegmentHeader.byteCount
            if segmentHasFrames && writeOffset + pendingBytes + (frame.end - frameStart) > segmentSizeBytes {
                try writeRange(batch, rangeStart..<frameStart)
                try roll(nextPosition: frame.position)
                rangeStart = frameStart
            }
            chain = CRC32C.chain(chain, appending: frame.checksum)
            frameStart = frame.end
        }
        try writeRange(batch, rangeStart..<frameStart)
        assert(frameStart == batch.bytes.count)
    }

    /// Forces everything written to stable storage. A failure is final for this writer.
    func sync() throws {
        try file.synchronizeData()
        syncs += 1
    }

    /// Trims preallocated zeros, syncs and closes: a cleanly closed log holds only records.
    func finish() throws {
        try file.truncate(to: writeOffset)
        // Durable, so the trimmed segment and everything written before close survive a crash.
        try file.synchronizeData()
        syncs += 1
        try file.close()
        preallocator?.shutDown()
    }

    /// Closes the segment after a failure, writing nothing more.
    func abandon() {
        try? file.close()
        preallocator?.shutDown()
    }

    private func writeRange(_ batch: EncodedBatch, _ range: Range<Int>) throws {
        guard !range.isEmpty else { return }
        try batch.bytes.withUnsafeBytes { try file.write(UnsafeRawBufferPointer(rebasing: $0[range]), at: writeOffset) }
        writeOffset += range.count
        writes += 1
        prepareNextIfHalfWritten()
    }

    /// Seals the current segment, unless it holds no frame, so everything written so far is in
    /// sealed segments; the next frame written will have `nextPosition`.
    func sealIfNotEmpty(nextPosition: LogPosition) throws {
        guard writeOffset > SegmentHeader.byteCount else { return }
        try roll(nextPosition: nextPosition)
    }

    /// Seals the current segment and starts the next, whose first record is `nextPosition`.
    private func roll(nextPosition: LogPosition) throws {
        // A sealed segment ends exactly at its last frame, so readers treat any bad byte in it as
        // damage; the cut also drops preallocated zeros.
        try file.truncate(to: writeOffset)
        // The seal (frames and cut) must be durable before a later segment exists: otherwise a
        // crash could leave a sealed segment with a torn end, which open rightly refuses.
        try file.synchronizeData()
        syncs += 1
        try file.close()
        sealedBytes += writeOffset
        segmentId += 1
        let header = SegmentHeader(segmentId: segmentId, firstPosition: nextPosition, previousChain: chain)
        // Without a prepared file in time, allocating keeps the roll quick.
        file = try Self.createSegment(fileSystem: fileSystem, directory: directory, header: header,
                                      prepared: preallocator?.take(),
                                      preallocateBytes: preallocation == .none ? nil : segmentSizeBytes)
        syncs += 2
        segmentsCreated += 1
        writeOffset = SegmentHeader.byteCount
        prepareNextAtOffset = Self.halfOfRoom(from: writeOffset, segmentSizeBytes: segmentSizeBytes)
    }

    private static func halfOfRoom(from offset: Int, segmentSizeBytes: Int) -> Int {
        offset + max(0, segmentSizeBytes - offset) / 2
    }
}
