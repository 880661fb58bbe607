import Foundation

/// The options every benchmark executable takes: `--runs N`, `--directory PATH`, `--quick`.
public struct BenchOptions: Sendable {
    /// Runs per scenario; tables show medians.
    public let runs: Int
    /// Where the benchmark writes; put it on the disk you care about.
    public let directory: String
    /// 10, or 1 with `--quick` (a tenth of the work).
    public let scale: Int

    /// Parses `arguments` (without the program name); prints the usage and exits on `--help`
    /// or a bad argument. Creates the directory.
    public static func parse(_ arguments: ArraySlice<String>, program: String, defaultRuns: Int) -> BenchOptions {
        let usage = """
            usage: \(program) [--runs N] [--directory PATH] [--quick]
              --runs N          runs per scenario; the table shows medians (default \(defaultRuns))
              --directory PATH  where to write (default ./bench-data); use the disk you care about
              --quick           a tenth of the work, for a smoke test
            """
        var runs = defaultRuns
        var directory = "bench-data"
        var scale = 10
        var arguments = arguments
        while let argument = arguments.popFirst() {
            switch argument {
            case "--runs": runs = arguments.popFirst().flatMap(Int.init) ?? 0
            case "--directory": directory = arguments.popFirst() ?? ""
            case "--quick": scale = 1
            case "--help", "-h": print(usage); exit(0)
            default: print("unknown argument \(argument)\n\(usage)"); exit(2)
            }
        }
        guard runs > 0, !directory.isEmpty else { print(usage); exit(2) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            print("\(program): cannot create \(directory): \(error)")
            exit(1)
        }
        return BenchOptions(runs: runs, directory: directory, scale: scale)
    }
}
