import SegmentLog

/// Concurrent appenders for the group-commit tests: each of `count` tasks appends `perAppender`
/// records to a log at once, appender `a`'s record `n` reading `"a:n"`.
struct ConcurrentAppenders {
    let count: Int
    let perAppender: Int

    /// Runs the appenders on `log`; the positions each got, in the order it appended.
    func append(to log: SegmentLog) async throws -> [[LogPosition]] {
        try await withThrowingTaskGroup(of: [LogPosition].self) { group in
            for appender in 0..<count {
                group.addTask {
                    var mine: [LogPosition] = []
                    for index in 0..<perAppender {
                        mine.append(try await log.append(type: 1, payload: Array("\(appender):\(index)".utf8)))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// Each appender's record numbers in the order `records` holds them.
    static func numbersByAppender(in records: some Sequence<LogRecord>) -> [String: [Int]] {
        var numbers: [String: [Int]] = [:]
        for record in records {
            let parts = String(decoding: record.payload, as: UTF8.self).split(separator: ":")
            numbers[String(parts[0]), default: []].append(Int(parts[1])!)
        }
        return numbers
    }
}
