import AppServiceScheduler
import SegmentLog

/// One verifying pass over a log that also replays it and counts record types: what `verify`
/// and `inspect` report.
struct LogSurvey {
    let report: LogVerifier.Report
    private(set) var fold: StateFold
    private(set) var countsByType: [String: Int] = [:]
    /// Problems found by the replay (the scheduler-level invariants).
    private(set) var replayProblems: [LogProblem] = []

    init(directory: String) throws {
        var fold = StateFold(floor: try LogReader(directory: directory).replayFloor)
        var counts: [String: Int] = [:]
        var replayProblems: [LogProblem] = []
        var progress = Progress("verified")
        var bytes = 0
        report = try LogVerifier(directory: directory).run { record in
            let decoded = DecodedRecord(record)
            counts[decoded.typeName, default: 0] += 1
            bytes += record.location.storedBytes
            progress.update(records: fold.records, bytes: bytes)
            guard replayProblems.isEmpty else { return }
            do {
                try fold.apply(record)
            } catch {
                replayProblems.append(LogProblem(severity: .error, file: directory + "/" + record.location.segmentFileName,
                                                 offset: record.location.offset, message: "scheduler replay stopped: \(error)"))
            }
        }
        progress.finish()
        self.fold = fold
        self.countsByType = counts
        self.replayProblems = replayProblems
    }

    var problems: [LogProblem] { report.problems + replayProblems }
    var hasErrors: Bool { problems.contains { $0.severity == .error } }
    var records: Int { report.segments.reduce(0) { $0 + $1.records } }
    var fileBytes: Int { report.segments.reduce(0) { $0 + $1.fileBytes } }
}
