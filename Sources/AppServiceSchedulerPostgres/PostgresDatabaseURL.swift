import Foundation

/// Where a ``PostgresRecordStore`` keeps its records: `postgres://USER:PASSWORD@HOST:PORT/DB`.
///
/// The password is kept for connecting and never shown: ``description`` (used in every error
/// message) leaves it out.
///
/// ```swift
/// // fragment
/// let url = try PostgresDatabaseURL("postgres://asched:secret@db.example:5432/asched")
/// print(url)   // postgres://asched@db.example:5432/asched
/// ```
public struct PostgresDatabaseURL: Sendable, Equatable, CustomStringConvertible {
    /// The role to connect as.
    public let user: String
    /// The role's password, if the server asks for one.
    public let password: String?
    /// The server's host name or address.
    public let host: String
    /// The server's port (5432 unless the URL names another).
    public let port: Int
    /// The database holding the store's tables.
    public let database: String

    /// Parses `url`. Throws ``PostgresStoreError/invalidURL(reason:)`` for anything but
    /// `postgres://` or `postgresql://` with a user, a host and a database; the message never
    /// repeats the URL, which may hold a password.
    public init(_ url: String) throws {
        guard let components = URLComponents(string: url),
              let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw PostgresStoreError.invalidURL(reason: "it is not of the form postgres://USER:PASSWORD@HOST:PORT/DB")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresStoreError.invalidURL(reason: "it names no user (postgres://USER:PASSWORD@HOST:PORT/DB)")
        }
        guard var host = components.host, !host.isEmpty else {
            throw PostgresStoreError.invalidURL(reason: "it names no host (postgres://USER:PASSWORD@HOST:PORT/DB)")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresStoreError.invalidURL(reason: "it names no database (postgres://USER:PASSWORD@HOST:PORT/DB)")
        }
        if let parameter = components.queryItems?.first {
            // Silently connecting without TLS when the URL asked for it would be worse than refusing.
            throw PostgresStoreError.invalidURL(reason:
                "it has the parameter \"\(parameter.name)\"; none is supported yet (connections are not encrypted: "
                    + "use a loopback or otherwise trusted network)")
        }
        guard let port = components.port ?? 5432 as Int?, (1...65_535).contains(port) else {
            throw PostgresStoreError.invalidURL(reason: "its port is not in 1...65535")
        }
        self.init(user: user, password: components.password, host: host, port: port, database: database)
    }

    /// A URL from its parts.
    public init(user: String, password: String?, host: String, port: Int = 5432, database: String) {
        precondition((1...65_535).contains(port), "port \(port) is not in 1...65535")
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
    }

    /// The URL without the password: safe for logs and error messages.
    public var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(user)@\(host):\(port)/\(database)"
    }
}
