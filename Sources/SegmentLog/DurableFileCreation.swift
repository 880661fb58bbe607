/// Gives a new file its name only once every byte of it is durable: written under a temporary
/// name, synced, renamed, and the directory synced. New segments and compacted segments are both
/// created this way, so after a crash the name holds either what it held before (or nothing) or
/// the whole new file, never part of it.
enum DurableFileCreation {
    /// Creates `directory/name`, replacing any file of that name, and returns it still open.
    ///
    /// 1. Open `prepared` (a file already synced to its size) if given; otherwise remove a stale
    ///    `name.tmp` and create it afresh (`O_EXCL`).
    /// 2. `fill` writes the contents.
    /// 3. `fdatasync` the file.
    /// 4. `rename` it to `name`.
    /// 5. `fsync` the directory.
    static func create(named name: String, in directory: String, fileSystem: any FileSystem,
                       from prepared: String? = nil, fill: (any OpenFile) throws -> Void) throws -> any OpenFile {
        precondition(!name.isEmpty && !name.hasSuffix(SegmentFileName.temporarySuffix))
        let destination = directory + "/" + name
        let temporary = prepared ?? destination + SegmentFileName.temporarySuffix
        precondition(temporary != destination, "a file cannot be created over itself")
        if prepared == nil && fileSystem.fileExists(at: temporary) { try fileSystem.removeFile(at: temporary) }
        let file = try fileSystem.openFile(at: temporary, mode: prepared == nil ? .createNew : .readWrite)
        do {
            try fill(file)
            // The contents must be on disk before the name is: a crash could otherwise leave a
            // named segment with a bad header or missing frames, which open refuses.
            try file.synchronizeData()
            // Atomic: a crash leaves the name on the old file (or none) or on the new, whole one.
            try fileSystem.rename(from: temporary, to: destination)
            // The rename must be durable before anything relies on the name (an acknowledged
            // record in the segment, a deletion of what it replaces), or a crash could undo it.
            try fileSystem.synchronizeDirectory(at: directory)
        } catch {
            try? file.close()
            throw error
        }
        return file
    }
}
