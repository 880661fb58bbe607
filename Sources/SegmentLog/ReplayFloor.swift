/// The `FLOOR` file (docs/FORMAT.md §8a): the position from which a replay folds the log.
///
/// Records below the floor are history kept only to be read by position: compaction may have
/// dropped the ones around them, so folding them would build a wrong state. The file is 24 bytes:
/// magic `ASCHFLOR`, u32 version 1, u64 floor position, u32 crc32c of the bytes before it.
/// Without the file the floor is position 1 (a log that was never compacted this way).
package enum ReplayFloor {
    package static let fileName = "FLOOR"
    static let byteCount = 24
    static let magic: [UInt8] = Array("ASCHFLOR".utf8)
    static let formatVersion: UInt32 = 1
    /// Offset of the u32 format version (bytes 0..<8 are the magic).
    static let versionOffset = 8
    /// Offset of the u64 floor position.
    static let positionOffset = 12
    /// Offset of the u32 CRC; the bytes before it are the ones it covers.
    static let checksumOffset = 20
    /// The floor of a directory without a `FLOOR` file: the whole log is replayed.
    static let absent = LogPosition(rawValue: 1)

    /// The floor stored in `directory`, or nil when there is no `FLOOR` file. A damaged file is
    /// a hard error: guessing a floor would replay history whose records compaction dropped.
    static func read(directory: String, fileSystem: any FileSystem) throws -> LogPosition? {
        let path = directory + "/" + fileName
        guard fileSystem.fileExists(at: path) else { return nil }
        let file = try fileSystem.openFile(at: path, mode: .readOnly)
        defer { try? file.close() }
        let bytes = try file.read(count: byteCount + 1, at: 0)
        let floor = try decode(bytes, file: path)
        assert(floor.rawValue >= 1)
        return floor
    }

    /// Makes `floor` the directory's floor, durably, before returning. `DurableFileCreation`
    /// writes `FLOOR.tmp`, `fdatasync`s it (a crash must not leave a named but empty or torn
    /// floor), `rename`s it over `FLOOR` (atomic: a crash leaves the old floor or the new one)
    /// and `fsync`s the directory (so the rename survives a crash before compaction drops
    /// records below the new floor).
    static func write(_ floor: LogPosition, directory: String, fileSystem: any FileSystem) throws {
        precondition(floor.rawValue >= 1, "the floor is a record's position")
        let bytes = encoded(floor)
        assert((try? decode(bytes, file: "")) == floor, "floor file does not round-trip")
        let file = try DurableFileCreation.create(named: fileName, in: directory, fileSystem: fileSystem) { file in
            try file.write(bytes, at: 0)
        }
        try file.close()
    }

    package static func encoded(_ floor: LogPosition) -> [UInt8] {
        assert(checksumOffset + MemoryLayout<UInt32>.size == byteCount, "the CRC ends the file")
        var bytes = [UInt8](repeating: 0, count: byteCount)
        bytes.withUnsafeMutableBytes { raw in
            raw.copyBytes(from: magic)
            raw.storeLittleEndian(formatVersion, at: versionOffset)
            raw.storeLittleEndian(floor.rawValue, at: positionOffset)
            raw.storeLittleEndian(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<checksumOffset])), at: checksumOffset)
        }
        return bytes
    }

    /// Parses and checks the contents of a floor file; `bytes` may hold one byte more than the
    /// format, to tell a longer file from a valid one.
    static func decode(_ bytes: [UInt8], file: String) throws -> LogPosition {
        func corrupt(_ reason: String) -> SegmentLogError { .corruptFloor(file: file, reason: reason) }
        guard bytes.count == byteCount else {
            throw corrupt("file is \(bytes.count > byteCount ? "longer than" : "\(bytes.count) bytes, not") the \(byteCount) bytes of a floor file")
        }
        return try bytes.withUnsafeBytes { raw in
            guard Array(raw[..<versionOffset]) == magic else { throw corrupt("magic is not \"ASCHFLOR\"") }
            let version = raw.loadLittleEndian(at: versionOffset, as: UInt32.self)
            let stored = raw.loadLittleEndian(at: checksumOffset, as: UInt32.self)
            let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<checksumOffset]))
            guard stored == computed else {
                throw corrupt("checksum is \(hex(stored)), computed \(hex(computed)) (version field reads \(version))")
            }
            guard version == formatVersion else {
                throw corrupt("format version \(version); this build reads version \(formatVersion) only")
            }
            let floor = LogPosition(rawValue: raw.loadLittleEndian(at: positionOffset, as: UInt64.self))
            guard floor.rawValue >= 1 else { throw corrupt("floor position is 0") }
            return floor
        }
    }
}
