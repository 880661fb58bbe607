import ArgumentParser
import SegmentLog

/// The data directory argument of the commands that work on the embedded log alone (`compact`,
/// `repair`, `purge-service`); they refuse `--database-url`, saying why.
struct LogDirectoryOptions: ParsableArguments {
    // Optional to the parser, so that `--database-url` alone gets its own answer, not "missing <directory>".
    @Argument(help: ArgumentHelp("The data directory: the scheduler's log (the segment files *.seg).", valueName: "directory"))
    var path: String?
    @Option(help: .hidden) var databaseURL: String?

    /// The data directory (``validate()`` made sure there is one).
    var directory: String { path ?? "" }

    func validate() throws {
        guard databaseURL == nil else {
            throw ValidationError("""
                --database-url: compact, repair and purge-service work on the embedded log's data directory only. On \
                PostgreSQL the instance holding the database compacts it (completed transactions' rows are deleted in \
                one SQL transaction), PostgreSQL recovers its own storage, and purging a service is not available yet
                """)
        }
        guard path != nil else { throw ValidationError("give the data directory") }
    }

    /// A reader on the directory, or a failure saying why it is not a log.
    func reader() throws -> LogReader {
        try Self.reader(directory)
    }

    /// A reader on `directory`, or a failure saying why it is not a log.
    static func reader(_ directory: String) throws -> LogReader {
        let reader = try LogReader(directory: directory)
        guard !reader.segmentFileNames.isEmpty else {
            throw SegmentLogError.notALogDirectory(path: directory, reason: "it holds no segment files (*.seg)")
        }
        return reader
    }
}
