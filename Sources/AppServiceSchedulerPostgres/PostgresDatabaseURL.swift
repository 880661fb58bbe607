import Foundation

/// Where a ``PostgresRecordStore`` keeps its records:
/// `postgres://USER:PASSWORD@HOST:PORT/DB`, optionally with libpq's `sslmode` and `sslrootcert`
/// parameters (``TLSMode``; the default is `prefer`, as libpq's), and `sslcert` with `sslkey` for
/// a server that authenticates clients by certificate.
///
/// The password is kept for connecting and never shown: ``description`` (used in every error
/// message) leaves it out.
///
/// ```swift
/// // fragment
/// let url = try PostgresDatabaseURL("postgres://asched:secret@db.example:5432/asched?sslmode=verify-full")
/// print(url)   // postgres://asched@db.example:5432/asched?sslmode=verify-full
/// ```
public struct PostgresDatabaseURL: Sendable, Hashable, CustomStringConvertible {
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
    /// Whether and how the connections are encrypted (`sslmode`).
    public let tlsMode: TLSMode
    /// The PEM file of the certificate authorities the server's certificate must chain to
    /// (`sslrootcert`); nil trusts the system's. With `require`, it makes the mode `verify-ca`, as
    /// in libpq.
    public let rootCertificatePath: String?
    /// The PEM file of the certificate (and its chain) this client presents (`sslcert`), for a
    /// server that authenticates by certificate (`cert` in pg_hba.conf); always with ``clientKeyPath``.
    public let clientCertificatePath: String?
    /// The PEM file of ``clientCertificatePath``'s private key (`sslkey`).
    public let clientKeyPath: String?

    /// libpq's `sslmode` values that asched implements.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain connections.
        case disable
        /// Encrypted when the server offers it, plain otherwise; the certificate is not checked.
        case prefer
        /// Encrypted, or no connection; the certificate is not checked (unless `sslrootcert` is given).
        case require
        /// Encrypted, the certificate chaining to a trusted authority.
        case verifyCA = "verify-ca"
        /// Encrypted, the certificate chaining to a trusted authority and naming the URL's host.
        case verifyFull = "verify-full"
    }

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
        var tlsMode = TLSMode.prefer
        var rootCertificatePath: String?
        var clientCertificatePath: String?
        var clientKeyPath: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw PostgresStoreError.invalidURL(reason: "its sslmode \"\(item.value ?? "")\" is not one of "
                                                            + TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
                }
                tlsMode = mode
            case "sslrootcert": rootCertificatePath = try Self.path(item)
            case "sslcert": clientCertificatePath = try Self.path(item)
            case "sslkey": clientKeyPath = try Self.path(item)
            default:
                // Silently ignoring a parameter (a revocation list, say) would connect other than asked.
                throw PostgresStoreError.invalidURL(reason: "it has the parameter \"\(item.name)\"; asched reads only sslmode, "
                                                        + "sslrootcert, sslcert and sslkey")
            }
        }
        // libpq would look for the missing half in ~/.postgresql; a URL that names one names both here.
        guard (clientCertificatePath == nil) == (clientKeyPath == nil) else {
            throw PostgresStoreError.invalidURL(reason: clientKeyPath == nil ? "its sslcert has no sslkey (the certificate's private key)"
                                                    : "its sslkey has no sslcert (the certificate it is the key of)")
        }
        guard clientCertificatePath == nil || tlsMode != .disable else {
            throw PostgresStoreError.invalidURL(reason: "its sslcert is never sent with sslmode=disable; drop one of them")
        }
        guard let port = components.port ?? 5432 as Int?, (1...65_535).contains(port) else {
            throw PostgresStoreError.invalidURL(reason: "its port is not in 1...65535")
        }
        self.init(user: user, password: components.password, host: host, port: port, database: database, tlsMode: tlsMode,
                  rootCertificatePath: rootCertificatePath, clientCertificatePath: clientCertificatePath, clientKeyPath: clientKeyPath)
    }

    /// The file a parameter names, which must not be empty.
    private static func path(_ item: URLQueryItem) throws -> String {
        guard let path = item.value, !path.isEmpty else {
            throw PostgresStoreError.invalidURL(reason: "its \(item.name) is empty; give the path of a PEM file")
        }
        return path
    }

    /// A URL from its parts.
    public init(user: String, password: String?, host: String, port: Int = 5432, database: String, tlsMode: TLSMode = .prefer,
                rootCertificatePath: String? = nil, clientCertificatePath: String? = nil, clientKeyPath: String? = nil) {
        precondition((1...65_535).contains(port), "port \(port) is not in 1...65535")
        precondition((clientCertificatePath == nil) == (clientKeyPath == nil), "a client certificate needs its key, and a key its certificate")
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.tlsMode = tlsMode
        self.rootCertificatePath = rootCertificatePath
        self.clientCertificatePath = clientCertificatePath
        self.clientKeyPath = clientKeyPath
    }

    /// The URL without the password: safe for logs and error messages. Its parameters are
    /// shown when they differ from the defaults.
    public var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        var parameters: [String] = []
        if tlsMode != .prefer { parameters.append("sslmode=\(tlsMode.rawValue)") }
        if let rootCertificatePath { parameters.append("sslrootcert=\(rootCertificatePath)") }
        if let clientCertificatePath, let clientKeyPath { parameters += ["sslcert=\(clientCertificatePath)", "sslkey=\(clientKeyPath)"] }
        return "postgres://\(user)@\(host):\(port)/\(database)" + (parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&"))
    }
}
