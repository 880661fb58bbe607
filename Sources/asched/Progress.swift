import Foundation
import Glibc

/// A progress line on standard error for long reads, shown only when it is a terminal.
struct Progress {
    private let enabled = isatty(STDERR_FILENO) == 1
    private var lastShown = ContinuousClock.now
    private var shown = false
    let verb: String

    init(_ verb: String) {
        self.verb = verb
    }

    mutating func update(records: Int, bytes: Int) {
        guard enabled, records % 4096 == 0, ContinuousClock.now - lastShown > .milliseconds(250) else { return }
        lastShown = .now
        shown = true
        FileHandle.standardError.write(Data("\r\(verb) \(records) records, \(bytes >> 20) MiB…".utf8))
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
