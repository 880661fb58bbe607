/// A problem ``LogVerifier`` found, naming the file, the offset and what was expected.
package struct LogProblem: Sendable, Equatable, CustomStringConvertible {
    /// How bad a problem is.
    package enum Severity: String, Sendable {
        /// What a crash leaves and opening the log repairs on its own (a torn tail).
        case warning
        /// Damage: opening the log for writing would refuse it.
        case error
    }

    /// Warning or error.
    package let severity: Severity
    /// The file's path.
    package let file: String
    /// The byte offset in `file`, when the problem has one.
    package let offset: Int?
    /// What is wrong, with the expected and found values.
    package let message: String

    /// A problem at `file` (and `offset`).
    package init(severity: Severity, file: String, offset: Int?, message: String) {
        self.severity = severity
        self.file = file
        self.offset = offset
        self.message = message
    }

    /// The problem an error thrown while reading `file` stands for.
    init(_ error: any Error, readingFile file: String) {
        switch error {
        case SegmentLogError.corruptFrame(let path, let offset, let reason):
            self.init(severity: .error, file: path, offset: offset, message: reason)
        case SegmentLogError.corruptSegmentHeader(let path, let reason):
            self.init(severity: .error, file: path, offset: 0, message: reason)
        case SegmentLogError.unsupportedFormatVersion(let path, let found, let supported):
            self.init(severity: .error, file: path, offset: SegmentHeader.versionOffset, message: "format version: expected \(supported), found \(found)")
        case SegmentLogError.brokenChain(let path, let expected, let found):
            self.init(severity: .error, file: path, offset: SegmentHeader.previousChainOffset,
                      message: "previous chain: expected \(hex(expected)), found \(hex(found)); a segment before it is missing or was replaced")
        default:
            self.init(severity: .error, file: file, offset: nil, message: "\(error)")
        }
    }

    package var description: String {
        "\(severity): \(file)" + (offset.map { " at offset \($0)" } ?? "") + ": \(message)"
    }
}
