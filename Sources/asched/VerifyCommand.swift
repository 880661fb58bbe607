import AppServiceSchedulerPostgres
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

            With --database-url (or ASCHED_DATABASE_URL), checks a PostgreSQL database instead,
            beside the instance holding it: every row decodes as a scheduler record and the
            replay from the floor reaches a state; PostgreSQL checks its own pages.

            Examples:
              asched verify /var/lib/asched
              asched verify /var/lib/asched && echo clean
              asched verify --database-url postgres://asched@db:5432/asched
            """)

    @OptionGroup var source: RecordSourceOptions

    func run() throws {
        switch try source.source() {
        case .directory(let directory): try verify(directory)
        case .database(let url): try verify(url)
        }
    }

    private func verify(_ url: PostgresDatabaseURL) throws {
        let reader = try PostgresRecordReader(url: url)
        defer { reader.close() }
        var fold = StateFold(reader)
        var errors: [String] = []
        var records = 0
        var replayStopped = false
        try reader.records(from: .start) { record in
            records += 1
            if case .failure(let error) = DecodedRecord(record).decoded {
                errors.append("error: \(url) asched_records position \(record.position): not a scheduler record: \(error)")
                return
            }
            guard !replayStopped else { return }
            do {
                try fold.apply(record)
            } catch {
                replayStopped = true
                errors.append("error: \(url) asched_records position \(record.position): scheduler replay stopped: \(error)")
            }
        }
        for error in errors { print(error) }
        print("checked \(records) records in \(url) (replay floor \(reader.replayFloor)): \(errors.count) errors, 0 warnings")
        if !errors.isEmpty { throw ExitCode(1) }
    }

    private func verify(_ directory: String) throws {
        let survey = try LogSurvey(directory: directory)
        for problem in survey.problems { print(problem) }
        let errors = survey.problems.filter { $0.severity == .error }.count
        let warnings = survey.problems.count - errors
        print("checked \(survey.records) records in \(survey.report.segments.count) segments "
              + "(\(survey.fileBytes) bytes): \(errors) errors, \(warnings) warnings")
        if errors > 0 { throw ExitCode(1) }
    }
}
