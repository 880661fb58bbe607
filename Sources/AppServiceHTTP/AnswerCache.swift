import Synchronization

/// A bounded memo of routing answers, shared by copies of a router.
final class AnswerCache: Sendable {
    /// Entries kept before the memo starts over; bounds memory whatever ids arrive.
    static let entriesMax = 10_000
    private let answers = Mutex<[String: [String]]>([:])

    func lookup(_ key: String) -> [String]? {
        answers.withLock { $0[key] }
    }

    func store(_ answer: [String], for key: String) {
        answers.withLock { answers in
            if answers.count >= Self.entriesMax { answers.removeAll(keepingCapacity: true) }
            answers[key] = answer
        }
    }
}
