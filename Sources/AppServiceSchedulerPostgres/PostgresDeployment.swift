import Logging
import PostgresNIO

/// The instances of one deployment on a database, as each sees them through it: which are
/// alive (each renews its row in `asched_instances`), and which holds each service's lease and
/// where it serves. Every instance assigns the services the same way from the same view
/// (``assignedServices(of:among:)``), so they spread without talking to each other.
public struct PostgresDeployment: Sendable, Equatable {
    /// A service's lease as last read.
    public struct Lease: Sendable, Equatable {
        /// The instance that took it.
        public let holder: String
        /// Where that instance serves its HTTP API (empty until it listens).
        public let address: String
        /// Neither expired nor released.
        public let isLive: Bool
    }

    /// The live instances' names and advertised addresses.
    public let instances: [String: String]
    /// Every service's lease ever taken, by service.
    public let leases: [String: Lease]

    /// Creates or migrates the database's tables (refusing a newer schema), taking no lease: what
    /// an instance does once before its first ``PostgresHeartbeat/beat(address:duration:timeout:)``.
    public static func prepare(url: PostgresDatabaseURL) async throws {
        let logger = Logger(label: "asched.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        let connection = try await Connections.connect(url, try Connections.configuration(url), id: 5, logger: logger)
        do {
            _ = try await Schema.prepare(connection, url: url, holder: "", leaseDuration: nil, request: .none, logger: logger)
            try? await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Records `instance` as alive at `address` for `duration`, then reads the live instances and
    /// the services' leases: one statement, whose rows ``init(rows:)`` reads.
    static func heartbeat(instance: String, address: String, duration: Duration) -> PostgresQuery {
        """
        WITH beat AS (
            INSERT INTO asched_instances (name, address, expires_at)
            VALUES (\(instance), \(address), now() + make_interval(secs => \(PostgresRecordStore.seconds(duration))::float8))
            ON CONFLICT (name) DO UPDATE SET address = excluded.address, expires_at = excluded.expires_at
            RETURNING name, address)
        SELECT 'instance', name, address, true FROM beat
        UNION ALL SELECT 'instance', name, address, true FROM asched_instances WHERE expires_at > now() AND name <> \(instance)
        UNION ALL SELECT 'lease:' || service, holder, address, expires_at > now() FROM asched_service_leases
        """
    }

    /// The view in the rows of ``heartbeat(instance:address:duration:)``.
    init(rows: [PostgresRow]) throws {
        var instances: [String: String] = [:]
        var leases: [String: Lease] = [:]
        for row in rows {
            let (kind, name, address, isLive) = try row.decode((String, String, String, Bool).self)
            if kind == "instance" {
                instances[name] = address
            } else {
                leases[String(kind.dropFirst("lease:".count))] = Lease(holder: name, address: address, isLive: isLive)
            }
        }
        self.init(instances: instances, leases: leases)
    }

    /// A view from its parts.
    public init(instances: [String: String], leases: [String: Lease]) {
        self.instances = instances
        self.leases = leases
    }

    /// The services of `services` that `instance` should deliver: sorted, the `i`th goes to the
    /// `i mod n`th of the `n` live instances, sorted by name. Empty while `instance` is not among them.
    public func assignedServices(of instance: String, among services: [String]) -> [String] {
        let live = instances.keys.sorted()
        guard let index = live.firstIndex(of: instance) else { return [] }
        return services.sorted().enumerated().filter { $0.offset % live.count == index }.map(\.element)
    }

    /// The live holder of `service`'s lease and its address, when one holds it and has advertised.
    public func owner(of service: String) -> (name: String, address: String)? {
        guard let lease = leases[service], lease.isLive, !lease.address.isEmpty else { return nil }
        return (lease.holder, lease.address)
    }
}
