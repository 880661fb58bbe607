import ArgumentParser
import SegmentLog

/// `asched repair`: cut damage off the end of the last segment, keeping a `.broken` copy.
struct RepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Cut a damaged end of the last segment, keeping a .broken copy of it.",
        discussion: """
            Opening a log cuts a torn tail by itself; repair also cuts damage that valid records
            follow (losing those records; the .broken copy keeps them). It refuses damage anywhere
            else, and refuses to run beside a live writer. --dry-run only says what it would do.

            Examples:
              asched repair /var/lib/asched --dry-run
              asched repair /var/lib/asched
            """)

    @OptionGroup var log: LogDirectoryOptions
    @Flag(help: "Report what would be cut; change nothing.") var dryRun = false

    func run() throws {
        _ = try log.reader()
        guard let report = try SegmentLog.repair(directory: log.directory, dryRun: dryRun) else {
            print("nothing to repair: every segment reads cleanly")
            return
        }
        print(report)
    }
}
