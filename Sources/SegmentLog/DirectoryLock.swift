import Glibc

/// The one-writer-per-directory rule: an advisory lock on `LOCK`, which holds the holder's pid.
enum DirectoryLock {
    /// Tries at taking the lock, 5 ms apart.
    static let attemptsMax = 20

    /// Takes the lock of `directory`, or throws naming the lock file and its holder.
    static func acquire(directory: String, fileSystem: any FileSystem) throws -> any OpenFile {
        let path = directory + "/" + SegmentFileName.lockName
        // A process that forks (to run a helper) shares the lock's open file with the child
        // until the child execs, so a lock just released can look held for a moment: retry
        // briefly before calling it another writer.
        for attempt in 0..<attemptsMax {
            if let lock = try fileSystem.lockFile(at: path) { return lock }
            if attempt < attemptsMax - 1 { usleep(5_000) }
        }
        let holder = (try? fileSystem.openFile(at: path, mode: .readOnly).read(count: 64, at: 0))
            .map { String(decoding: $0, as: UTF8.self).trimmingNewlines } ?? "unknown process"
        throw SegmentLogError.directoryLocked(lockFile: path, holder: holder.isEmpty ? "unknown process" : holder)
    }
}

extension String {
    var trimmingNewlines: String {
        String(self.reversed().drop(while: { $0 == "\n" }).reversed())
    }
}
