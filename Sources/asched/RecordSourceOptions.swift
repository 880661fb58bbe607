import AppServiceHTTP
import AppServiceSchedulerPostgres
import ArgumentParser
import Foundation

/// Where a read-only offline command (`inspect`, `dump`, `state`, `verify`) reads the records:
/// a data directory, or a PostgreSQL database, read without taking its writer lease.
struct RecordSourceOptions: ParsableArguments {
    /// Where the records are.
    enum Source {
        case directory(String)
        case database(PostgresDatabaseURL)
    }

    @Argument(help: "The data directory: the scheduler's log (the segment files *.seg).")
    var directory: String?
    @Option(help: ArgumentHelp("""
        A PostgreSQL database instead of a data directory (postgres://USER:PASSWORD@HOST:PORT/DB), \
        read without taking its writer lease; or set \(DaemonConfiguration.databaseURLVariable), which keeps \
        the password out of ps.
        """, valueName: "url"))
    var databaseURL: String?

    func validate() throws {
        if directory != nil && databaseURL != nil {
            throw ValidationError("give a data directory or --database-url, not both")
        }
    }

    /// The directory if given, else `--database-url`, else the environment variable.
    func source(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Source {
        if let directory { return .directory(directory) }
        let variable = DaemonConfiguration.databaseURLVariable
        let (text, origin) = databaseURL.map { ($0, "--database-url") } ?? (environment[variable] ?? "", variable)
        guard !text.isEmpty else {
            throw ValidationError("give a data directory, or --database-url URL (or set \(variable))")
        }
        do {
            return .database(try PostgresDatabaseURL(text))
        } catch {
            // The error never repeats the URL, which may hold a password.
            throw ValidationError("\(origin): \(error)")
        }
    }
}
