import ArgumentParser
import SegmentLog

/// The data directory argument every offline command takes.
struct LogDirectoryOptions: ParsableArguments {
    @Argument(help: "The data directory: the scheduler's log (the segment files *.seg).")
    var directory: String

    /// A reader on the directory, or a failure saying why it is not a log.
    func reader() throws -> LogReader {
        let reader = try LogReader(directory: directory)
        guard !reader.segmentFileNames.isEmpty else {
            throw SegmentLogError.notALogDirectory(path: directory, reason: "it holds no segment files (*.seg)")
        }
        return reader
    }
}
