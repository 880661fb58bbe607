import Synchronization

/// Prepares the next segment file in the background: zero-filled to the segment size and
/// synced, so the appends that later overwrite it change no metadata.
final class SegmentPreallocator: Sendable {
    private enum Stage { case idle, preparing, ready }

    private let fileSystem: any FileSystem
    private let path: String
    private let sizeBytes: Int
    private let queue: any LogWorkQueue
    private let stage = Mutex(Stage.idle)

    init(fileSystem: any FileSystem, directory: String, sizeBytes: Int, executor: any LogExecutor) {
        precondition(sizeBytes > 0)
        self.queue = executor.makeSerialQueue(label: "SegmentLog.preallocate")
        self.fileSystem = fileSystem
        self.path = directory + "/" + SegmentFileName.preallocatedName
        self.sizeBytes = sizeBytes
    }

    /// Starts preparing a file unless one is ready or being prepared.
    func prepare() {
        let start = stage.withLock { stage in
            guard stage == .idle else { return false }
            stage = .preparing
            return true
        }
        guard start else { return }
        queue.async { [self] in
            let done = (try? fill()) != nil
            stage.withLock { $0 = done ? .ready : .idle }
        }
    }

    /// The prepared file's path, handing it over to the caller, or nil when none is ready.
    func take() -> String? {
        stage.withLock { stage in
            guard stage == .ready else { return nil }
            stage = .idle
            return path
        }
    }

    /// Waits for a preparation in progress, then removes an unused prepared file.
    func shutDown() {
        queue.waitUntilIdle()
        if take() != nil { try? fileSystem.removeFile(at: path) }
    }

    private func fill() throws {
        if fileSystem.fileExists(at: path) { try fileSystem.removeFile(at: path) }
        let file = try fileSystem.openFile(at: path, mode: .createNew)
        defer { try? file.close() }
        try file.writeZeros(from: 0, to: sizeBytes)
        // Syncing here, off the append path, is the point: later appends find the blocks and
        // the size already on disk.
        try file.synchronizeData()
    }
}
