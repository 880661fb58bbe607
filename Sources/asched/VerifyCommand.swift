import ArgumentParser
import SegmentLog

/// `asched verify`: check everything, report every problem, exit non-zero on damage.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every checksum, the segment chain, positions, decompression and the replay.",
        discussion: """
            Reports every problem with its file and offset, and the expected and found values,
            and keeps going past damage where it can. A torn tail of the last segment (what a
            crash leaves, and what opening the log cuts) is a warning. Exit status: 0 when there
            are no errors (warnings allowed), 1 when there is damage.

            Examples:
              asched verify /var/lib/asched
              asched verify /var/lib/asched && echo clean
            """)

    @OptionGroup var log: LogDirectoryOptions

    func run() throws {
        let survey = try LogSurvey(directory: log.directory)
        for problem in survey.problems { print(problem) }
        let errors = survey.problems.filter { $0.severity == .error }.count
        let warnings = survey.problems.count - errors
        print("checked \(survey.records) records in \(survey.report.segments.count) segments "
              + "(\(survey.fileBytes) bytes): \(errors) errors, \(warnings) warnings")
        if errors > 0 { throw ExitCode(1) }
    }
}
