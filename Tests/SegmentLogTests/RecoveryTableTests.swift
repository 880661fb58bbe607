import SegmentLog
import SegmentLogTesting
import Synchronization
import Testing

/// Walks `RecoveryDecision`'s table: for every kind of damage at every place, builds a real log
/// with that damage, opens it (and asks `repair`), and checks the outcome is the table's.
@Suite struct RecoveryTableTests {
    /// A damaged log and what its row expects.
    struct Injected {
        /// The file system to open it through: a live-disk view for damage only a live disk shows.
        let fileSystem: any FileSystem
        /// The segment an error names, or whose tail is dropped.
        let file: String
        /// Where the damage starts, for damage in frames.
        let offset: Int?
        /// The last record an open that succeeds keeps.
        let lastKept: LogPosition
    }

    @Test(arguments: LogDamage.allCases, DamagePlace.allCases)
    func everyRowLeadsToItsAction(damage: LogDamage, place: DamagePlace) async throws {
        for disk in TestDisk.allCases {
            let directory = TestDirectory(disk)
            let log = try directory.open(segmentSizeBytes: 600)
            var random = SeededRandom(seed: 11)
            for index in 0..<24 {
                // Compressible payloads above the LZ4 threshold, so every segment stores some compressed.
                let compressible = index % 2 == 0
                _ = try await log.append(type: 3, payload: makePayload(size: compressible ? 200 : 90, compressible: compressible,
                                                                       using: &random))
            }
            try await log.close()
            let segments = try directory.segmentPaths()
            try #require(segments.count >= 4)
            let target = place == .lastSegment ? segments.count - 1 : 1
            let injected = try inject(damage, into: directory, segments: segments, target: target)
            let row = "\(damage) in the \(place) on the \(disk) disk"
            try await expect(RecoveryDecision.action(for: damage, at: place), injected, directory, row)
        }
    }

    /// Damages segment `target` of `segments` as `damage` says.
    func inject(_ damage: LogDamage, into directory: TestDirectory, segments: [String], target: Int) throws -> Injected {
        let path = segments[target]
        let inTarget = try directory.readAll().filter { path.hasSuffix("/" + $0.location.segmentFileName) }
        let previous = try directory.readAll().last { $0.position < inTarget[0].position }?.position ?? .start
        var bytes = try directory.bytes(of: path)
        let size = bytes.count
        func damaged(offset: Int?, lastKept: LogPosition, file: String = path) throws -> Injected {
            try directory.replace(path, with: bytes)
            return Injected(fileSystem: directory.fileSystem, file: file, offset: offset, lastKept: lastKept)
        }
        switch damage {
        case .zeroFilledTail:
            bytes += [UInt8](repeating: 0, count: 200)
            return try damaged(offset: size, lastKept: inTarget.last!.position)
        case .tornFrame:
            bytes += bytes[SegmentHeader.byteCount..<SegmentHeader.byteCount + 30]
            return try damaged(offset: size, lastKept: inTarget.last!.position)
        case .invalidFrameBeforeValidRecord:
            bytes[inTarget[0].location.offset + FrameHeader.byteCount + 6] ^= 0xFF
            return try damaged(offset: inTarget[0].location.offset, lastKept: previous)
        case .positionOutOfOrder:
            Self.store(inTarget[0].position.rawValue, at: inTarget[1].location.offset + FrameHeader.positionOffset, in: &bytes)
            Self.resealFrame(at: inTarget[1].location.offset, in: &bytes)
            return try damaged(offset: inTarget[1].location.offset, lastKept: inTarget[0].position)
        case .undecompressiblePayload:
            let frame = try #require(inTarget.first { $0.location.isCompressed })
            Self.store(UInt32(frame.payload.count + 1), at: frame.location.offset + FrameHeader.rawLengthOffset, in: &bytes)
            Self.resealFrame(at: frame.location.offset, in: &bytes)
            return try damaged(offset: frame.location.offset, lastKept: previous)
        case .badSegmentHeader:
            bytes[SegmentHeader.segmentIdOffset + 4] ^= 1
            return try damaged(offset: nil, lastKept: previous)
        case .unknownFormatVersion:
            bytes[SegmentHeader.versionOffset] = 9
            Self.resealHeader(&bytes)
            return try damaged(offset: nil, lastKept: previous)
        case .segmentOutOfOrder:
            Self.store(UInt64(1), at: SegmentHeader.firstPositionOffset, in: &bytes)
            Self.resealHeader(&bytes)
            return try damaged(offset: nil, lastKept: previous)
        case .brokenChain:
            try directory.remove(segments[target - 1])
            return Injected(fileSystem: directory.fileSystem, file: path, offset: nil, lastKept: previous)
        case .fileShrank:
            return Injected(fileSystem: LiveDiskView(directory.fileSystem, path: path, extraSizeBytes: 100),
                            file: path, offset: size, lastKept: previous)
        case .frameCompletedSinceRead:
            let last = inTarget.last!.location
            let payload = last.offset + FrameHeader.byteCount
            return Injected(fileSystem: LiveDiskView(directory.fileSystem, path: path, unfinished: payload..<payload + last.storedBytes),
                            file: path, offset: last.offset, lastKept: inTarget.dropLast().last?.position ?? previous)
        }
    }

    /// Opens the damaged log, and asks `repair` when open refuses it.
    func expect(_ action: RecoveryAction, _ injected: Injected, _ directory: TestDirectory, _ row: String) async throws {
        var configuration = directory.configuration(segmentSizeBytes: 600)
        configuration.fileSystem = injected.fileSystem
        switch action {
        case .endOfLog, .cutTornTail:
            let log = try SegmentLog.open(directory: directory.path, configuration: configuration)
            #expect(log.lastPosition == injected.lastKept, "\(row)")
            #expect(log.tornTail.map { directory.path + "/" + $0.segmentFileName } == (action == .cutTornTail ? injected.file : nil), "\(row)")
            #expect(log.tornTail?.offset == (action == .cutTornTail ? injected.offset : nil), "\(row)")
            try await log.close()
        case .refuseRepairable, .refuse:
            let error = #expect(throws: SegmentLogError.self, "\(row)") {
                _ = try SegmentLog.open(directory: directory.path, configuration: configuration)
            }
            let location = error.flatMap(Self.location)
            #expect(location?.0 == injected.file && location?.1 == injected.offset, "\(row): \(String(describing: error))")
            let repair = Result { try SegmentLog.repair(directory: directory.path, fileSystem: injected.fileSystem, dryRun: true) }
            if action == .refuseRepairable {
                #expect((try? repair.get())??.offset == injected.offset, "\(row): \(repair)")
            } else {
                guard case .failure(SegmentLogError.repairRefused) = repair else {
                    Issue.record("\(row): repair did not refuse: \(repair)")
                    return
                }
            }
        }
    }

    /// The file (and offset, for a frame) an error names.
    static func location(of error: SegmentLogError) -> (String, Int?)? {
        switch error {
        case .corruptFrame(let file, let offset, _): return (file, offset)
        case .corruptSegmentHeader(let file, _), .unsupportedFormatVersion(let file, _, _), .brokenChain(let file, _, _):
            return (file, nil)
        default: return nil
        }
    }

    static func store<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        for index in 0..<MemoryLayout<T>.size { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (index * 8)) }
    }

    /// Gives the frame at `offset` the checksum its (changed) header and payload call for.
    static func resealFrame(at offset: Int, in bytes: inout [UInt8]) {
        let stored = bytes.withUnsafeBytes { FrameHeader.storedLength(in: UnsafeRawBufferPointer(rebasing: $0[offset...])) }
        let payloadStart = offset + FrameHeader.byteCount
        let payloadChecksum = CRC32CReference.checksum(Array(bytes[payloadStart..<payloadStart + stored]), seed: 0)
        let checksum = CRC32CReference.checksum(Array(bytes[offset..<offset + FrameHeader.checksumOffset]), seed: payloadChecksum)
        store(checksum, at: offset + FrameHeader.checksumOffset, in: &bytes)
    }

    /// Gives a (changed) segment header the CRC it calls for.
    static func resealHeader(_ bytes: inout [UInt8]) {
        let checksum = CRC32CReference.checksum(Array(bytes[..<SegmentHeader.checksumOffset]), seed: 0)
        store(checksum, at: SegmentHeader.checksumOffset, in: &bytes)
    }
}

/// One segment file as a reader beside a live writer may see it: its size read larger than its
/// contents (it shrank since), or, through each handle, the first read of a range returning the
/// zeros of a write still under way.
final class LiveDiskView: FileSystem {
    private let base: any FileSystem
    private let path: String
    private let extraSizeBytes: Int
    private let unfinished: Range<Int>?

    init(_ base: any FileSystem, path: String, extraSizeBytes: Int = 0, unfinished: Range<Int>? = nil) {
        self.base = base
        self.path = path
        self.extraSizeBytes = extraSizeBytes
        self.unfinished = unfinished
    }

    func contentsOfDirectory(at path: String) throws -> [String] { try base.contentsOfDirectory(at: path) }
    func directoryExists(at path: String) -> Bool { base.directoryExists(at: path) }
    func fileExists(at path: String) -> Bool { base.fileExists(at: path) }
    func createDirectory(at path: String) throws { try base.createDirectory(at: path) }
    func rename(from source: String, to destination: String) throws { try base.rename(from: source, to: destination) }
    func removeFile(at path: String) throws { try base.removeFile(at: path) }
    func synchronizeDirectory(at path: String) throws { try base.synchronizeDirectory(at: path) }
    func lockFile(at path: String) throws -> (any OpenFile)? { try base.lockFile(at: path) }

    func openFile(at path: String, mode: FileOpenMode) throws -> any OpenFile {
        let file = try base.openFile(at: path, mode: mode)
        guard path == self.path else { return file }
        return LiveFile(file, extraSizeBytes: extraSizeBytes, unfinished: unfinished)
    }

    private final class LiveFile: OpenFile {
        private let base: any OpenFile
        private let extraSizeBytes: Int
        private let unfinished: Range<Int>?
        private let unfinishedShown = Mutex(false)

        init(_ base: any OpenFile, extraSizeBytes: Int, unfinished: Range<Int>?) {
            self.base = base
            self.extraSizeBytes = extraSizeBytes
            self.unfinished = unfinished
        }

        var path: String { base.path }

        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
            let count = try base.read(into: buffer, at: offset)
            guard let unfinished else { return count }
            let start = max(offset, unfinished.lowerBound)
            let end = min(offset + count, unfinished.upperBound)
            guard start < end, unfinishedShown.withLock({ shown in defer { shown = true }; return !shown }) else { return count }
            for index in start..<end { buffer[index - offset] = 0 }
            return count
        }

        func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws { try base.write(bytes, at: offset) }
        func size() throws -> Int { try base.size() + extraSizeBytes }
        func truncate(to length: Int) throws { try base.truncate(to: length) }
        func preallocate(upTo length: Int) throws { try base.preallocate(upTo: length) }
        func synchronizeData() throws { try base.synchronizeData() }
        func close() throws { try base.close() }
    }
}
