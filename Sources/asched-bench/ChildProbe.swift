import Foundation

/// Runs this benchmark again as a child process in a probe mode (`--replay-probe`,
/// `--outage-probe`), so the figure it prints (peak RSS above all) is the child's alone, and
/// reads the numbers of its one output line.
enum ChildProbe {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// This executable (a child started by `CommandLine.arguments[0]` could miss it after a `cd`).
    static func ownExecutable() throws -> URL {
        URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
    }

    /// The `count` numbers the probe `arguments` printed; throws with its output otherwise.
    static func numbers(_ arguments: [String], count: Int) throws -> [Double] {
        let probe = Process()
        probe.executableURL = try ownExecutable()
        probe.arguments = arguments
        let output = Pipe()
        probe.standardOutput = output
        try probe.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        probe.waitUntilExit()
        let fields = text.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        guard probe.terminationStatus == 0, fields.count == count else {
            throw Failure(description: "asched-bench \(arguments.joined(separator: " ")) exited \(probe.terminationStatus) saying: \(text)")
        }
        return fields
    }
}
