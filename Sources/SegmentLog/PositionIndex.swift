import Synchronization

/// Finds a record by its position without reading the log from its start: the segment from the
/// headers' first positions (binary search), then the frame from a sparse, in-memory map of
/// positions to offsets in that segment, filled in as frames are read.
///
/// The map may go stale when compaction rewrites a segment, or a segment rolls after the
/// listing. Only a frame whose checksum holds and whose position is the one asked for is
/// returned, so staleness can only make a lookup miss; a miss re-lists the segments, forgets
/// every offset, and tries once more before it is reported.
final class PositionIndex: Sendable {
    /// A segment as listed at the last reload, with its header.
    struct Segment {
        let file: SegmentFile
        let header: SegmentHeader
    }

    /// Frames of one segment whose offsets are known, at least ``strideBytes`` apart, in order.
    struct Offsets {
        var positions: [LogPosition] = []
        var offsets: [Int] = []
    }

    /// Distance between two remembered frames: a lookup reads at most about this much before
    /// reaching its frame. 16 bytes per 16 KiB of log: 1 MiB of memory for 1 GiB of log.
    static let strideBytes = 16 << 10
    /// How much one read takes in: a stride and a typical frame.
    static let windowBytes = 32 << 10
    /// Fresh listings a lookup tries before it reports a miss.
    static let listingRetriesMax = 3

    private struct State {
        var segments: [Segment]?
        var offsets: [UInt64: Offsets] = [:]
        /// Bumped at every reload, so offsets learnt from an older listing are not kept.
        var generation = 0
    }

    private enum Lookup {
        case found([LogRecord])
        case absent(LogPosition, String)
        case failed(any Error)
    }

    let directory: String
    let fileSystem: any FileSystem
    private let state = Mutex(State())

    init(directory: String, fileSystem: any FileSystem) {
        self.directory = directory
        self.fileSystem = fileSystem
    }

    /// The records at `positions` (ascending, distinct), in that order: one file opened per
    /// segment, and the frames between two of them read once. Throws
    /// ``SegmentLogError/noRecord(position:reason:)`` for the first position the log holds no
    /// record at (never written, or dropped by compaction).
    func records(at positions: [LogPosition]) throws -> [LogRecord] {
        precondition(positions.first.map { $0.rawValue >= 1 } ?? true, "position 0 is not a record's")
        precondition(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 }, "positions must ascend")
        var records: [LogRecord] = []
        records.reserveCapacity(positions.count)
        var remaining = positions[...]
        // A compaction running beside the reader renames and deletes segments; each of its steps
        // can stale the listing once, so a miss is retried on a fresh listing a few times.
        var retries = 0
        while let first = remaining.first {
            let (segments, generation) = try retries > 0 ? reload() : cachedSegments()
            let outcome: Lookup
            if let index = Self.segmentIndex(containing: first, in: segments) {
                let end = index + 1 < segments.count ? segments[index + 1].header.firstPosition : nil
                let inSegment = remaining.prefix { end == nil || $0 < end! }
                outcome = find(inSegment, in: segments[index], generation: generation)
            } else {
                outcome = .absent(first, "it is before the log's first segment")
            }
            if case .found(let found) = outcome {
                assert(zip(found, remaining).allSatisfy { $0.position == $1 })
                records += found
                remaining = remaining.dropFirst(found.count)
                retries = 0
                continue
            }
            // A miss or a vanished file may come from a listing or offsets gone stale: re-list,
            // then report it. Damage is reported at once.
            let stale: Bool
            switch outcome {
            case .found, .absent: stale = true
            case .failed(let error): stale = (error as? SegmentLogError)?.isMissingFile ?? false
            }
            guard !stale || retries == Self.listingRetriesMax else {
                retries += 1
                continue
            }
            switch outcome {
            case .found: preconditionFailure("handled above")
            case .absent(let position, let reason): throw SegmentLogError.noRecord(position: position, reason: reason)
            case .failed(let error): throw error
            }
        }
        assert(records.count == positions.count)
        return records
    }

    /// Forgets the listing and every offset; compaction calls it after replacing segments.
    func invalidate() {
        state.withLock { state in
            state.segments = nil
            state.offsets = [:]
            state.generation += 1
        }
    }

    private func cachedSegments() throws -> ([Segment], Int) {
        if let cached = state.withLock({ state in state.segments.map { ($0, state.generation) } }) { return cached }
        return try reload()
    }

    private func reload() throws -> ([Segment], Int) {
        var segments: [Segment] = []
        for attempt in 1...Self.listingRetriesMax {
            do {
                segments = try SegmentFile.list(in: directory, fileSystem: fileSystem).map {
                    Segment(file: $0, header: try $0.readHeader(fileSystem: fileSystem))
                }
                break
            } catch let error as SegmentLogError where attempt < Self.listingRetriesMax && error.isMissingFile {
                // A compaction deleted a listed segment before its header was read: list again.
                continue
            }
        }
        return state.withLock { state in
            state.generation += 1
            state.segments = segments
            state.offsets = [:]
            return (segments, state.generation)
        }
    }

    /// The last segment whose first position is at or before `position`.
    static func segmentIndex(containing position: LogPosition, in segments: [Segment]) -> Int? {
        var low = 0
        var high = segments.count
        while low < high {
            let middle = (low + high) / 2
            if segments[middle].header.firstPosition <= position { low = middle + 1 } else { high = middle }
        }
        assert(low == segments.count || segments[low].header.firstPosition > position)
        return low == 0 ? nil : low - 1
    }

    /// The closest remembered frame at or before `position` in the segment, or its first frame.
    private func start(for position: LogPosition, in segmentId: UInt64) -> (offset: Int, position: LogPosition) {
        state.withLock { state in
            guard let known = state.offsets[segmentId] else { return (SegmentHeader.byteCount, .start) }
            var low = 0
            var high = known.positions.count
            while low < high {
                let middle = (low + high) / 2
                if known.positions[middle] <= position { low = middle + 1 } else { high = middle }
            }
            return low == 0 ? (SegmentHeader.byteCount, .start) : (known.offsets[low - 1], known.positions[low - 1])
        }
    }

    private func remember(_ learnt: Offsets, in segmentId: UInt64, generation: Int) {
        guard !learnt.positions.isEmpty else { return }
        state.withLock { state in
            guard state.generation == generation else { return }
            var known = state.offsets[segmentId] ?? Offsets()
            for (position, offset) in zip(learnt.positions, learnt.offsets)
            where offset >= (known.offsets.last ?? 0) + Self.strideBytes {
                assert(position > (known.positions.last ?? .start))
                known.positions.append(position)
                known.offsets.append(offset)
            }
            state.offsets[segmentId] = known
        }
    }

    /// Reads `positions`, all in `segment`, scanning its frames from the closest remembered one
    /// to the first of them.
    private func find(_ positions: ArraySlice<LogPosition>, in segment: Segment, generation: Int) -> Lookup {
        precondition(!positions.isEmpty)
        let file: any OpenFile
        do {
            file = try fileSystem.openFile(at: segment.file.path, mode: .readOnly)
        } catch {
            // Compaction may have deleted it since the listing.
            return .failed(error)
        }
        defer { try? file.close() }
        do {
            guard try segment.file.readHeader(from: file) == segment.header else {
                return .absent(positions.first!, "segment \(segment.file.name) changed while it was looked up")
            }
            var reader = FrameWindowReader(file: file, path: segment.file.path)
            let start = self.start(for: positions.first!, in: segment.file.segmentId)
            var offset = start.offset
            var previous = start.position == .start ? LogPosition.start : LogPosition(rawValue: start.position.rawValue - 1)
            var learnt = Offsets()
            defer { remember(learnt, in: segment.file.segmentId, generation: generation) }
            var found: [LogRecord] = []
            var wanted = positions.startIndex
            while let frame = try reader.frame(at: offset) {
                let position = frame.header.position
                guard position > previous else {
                    throw SegmentLogError.corruptFrame(file: segment.file.path, offset: offset,
                                                       reason: "position \(position) does not follow \(previous)")
                }
                if position > positions[wanted] {
                    return .absent(positions[wanted], "\(segment.file.name) holds no record there (the next one is \(position))")
                }
                if position == positions[wanted] {
                    found.append(try reader.record(frame, in: segment.file.name))
                    wanted += 1
                    if wanted == positions.endIndex { return .found(found) }
                    // Skip ahead to a remembered frame nearer the next position, if there is one.
                    let ahead = self.start(for: positions[wanted], in: segment.file.segmentId)
                    if ahead.offset > offset + frame.header.frameLength {
                        assert(ahead.position > position)
                        previous = LogPosition(rawValue: ahead.position.rawValue - 1)
                        offset = ahead.offset
                        continue
                    }
                }
                if offset >= (learnt.offsets.last ?? start.offset) + Self.strideBytes {
                    learnt.positions.append(position)
                    learnt.offsets.append(offset)
                }
                previous = position
                offset += frame.header.frameLength
            }
            return .absent(positions[wanted], "\(segment.file.name) ends at offset \(offset) before it")
        } catch {
            return .failed(error)
        }
    }
}

/// Reads single frames at given offsets through a window of ``PositionIndex/windowBytes``,
/// checking each frame's fields and checksum.
struct FrameWindowReader {
    let file: any OpenFile
    let path: String
    private var window: [UInt8] = []
    private var windowOffset = 0

    init(file: any OpenFile, path: String) {
        self.file = file
        self.path = path
    }

    /// The checked frame at `offset`, or nil when the file ends there or holds zeros there (an
    /// active segment's unwritten space).
    mutating func frame(at offset: Int) throws -> ScannedFrame? {
        precondition(offset >= SegmentHeader.byteCount)
        guard try fill(offset, count: FrameHeader.byteCount) else { return nil }
        let start = offset - windowOffset
        let checkedHeader = window.withUnsafeBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[start..<start + FrameHeader.byteCount])
            // An active segment's unwritten space reads as zeros: the end, not damage.
            return bytes.allSatisfy { $0 == 0 } ? nil
                : FrameCheck.header(in: bytes, bytesAfterHeader: FrameHeader.payloadBytesMax)
        }
        let header: FrameHeader
        switch checkedHeader {
        case nil: return nil
        case .success(let checked): header = checked
        case .failure(let problem): throw SegmentLogError.corruptFrame(file: path, offset: offset, reason: problem.reason)
        }
        guard try fill(offset, count: header.frameLength) else {
            throw SegmentLogError.corruptFrame(file: path, offset: offset, reason: "the file ends inside the frame")
        }
        let frameStart = offset - windowOffset
        let checksum = window.withUnsafeBytes {
            FrameCheck.checksum(ofFrame: UnsafeRawBufferPointer(rebasing: $0[frameStart...]), header: header)
        }
        let stored: UInt32
        switch checksum {
        case .success(let value): stored = value
        case .failure(let problem): throw SegmentLogError.corruptFrame(file: path, offset: offset, reason: problem.reason)
        }
        return ScannedFrame(header: header, offset: offset, checksum: stored)
    }

    /// The record of `frame`, the frame last returned, its payload decompressed.
    func record(_ frame: ScannedFrame, in segmentFileName: String) throws -> LogRecord {
        let start = frame.offset - windowOffset + FrameHeader.byteCount
        precondition(start >= FrameHeader.byteCount && start + frame.header.storedLength <= window.count)
        let payload = window.withUnsafeBytes { raw in
            FrameCheck.payload(stored: UnsafeRawBufferPointer(rebasing: raw[start..<start + frame.header.storedLength]),
                               header: frame.header)
        }
        guard let payload else {
            throw SegmentLogError.corruptFrame(file: path, offset: frame.offset, reason: FrameCheck.undecompressible(frame.header))
        }
        assert(payload.count == frame.header.rawLength)
        return LogRecord(position: frame.header.position, type: frame.header.type, payload: payload,
                         location: RecordLocation(segmentFileName: segmentFileName, offset: frame.offset,
                                                  storedBytes: frame.header.storedLength, isCompressed: frame.header.isCompressed))
    }

    /// Makes file bytes `start ..< start + count` available; false when the file ends first.
    private mutating func fill(_ start: Int, count: Int) throws -> Bool {
        precondition(count >= FrameHeader.byteCount && count <= FrameHeader.byteCount + FrameHeader.payloadBytesMax)
        if start >= windowOffset && start + count <= windowOffset + window.count { return true }
        window = try file.read(count: max(count, PositionIndex.windowBytes), at: start)
        windowOffset = start
        return window.count >= count
    }
}
