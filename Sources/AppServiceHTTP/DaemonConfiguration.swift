import AppServiceScheduler
import AppServiceSchedulerPostgres
import Foundation
import SegmentLog

/// The settings of `asched serve`, read from the YAML file given with `--config`.
///
/// ```yaml
/// data_dir: /var/lib/asched
/// listen: 127.0.0.1:8448
/// fsync: interval 5ms
/// registrations: [irc.yaml]
/// ```
///
/// ``ConfigurationKey`` lists every key with its syntax and default. Sizes, durations and
/// `fsync` follow a strict syntax (`YAMLMapping+Units.swift`). Every key is optional and a key with no
/// value takes its default. An unknown key is an error, so a misspelt key is never silently
/// ignored. Relative paths (`data_dir`, `registrations`, `tls_certificate`, `tls_key`,
/// `ingest_token_file`) are resolved against the directory of the configuration file, so the
/// daemon reads the same files whatever its working directory; without a file, `data_dir` is
/// relative to the working directory.
///
/// The ingest token may come from one of three places: `ingest_token`, the file named by
/// `ingest_token_file`, or the environment variable `ASCHED_INGEST_TOKEN`; two at once is an error
/// naming both, so there is never a doubt which one is in force.
///
/// With `database_url` (or the environment variable `ASCHED_DATABASE_URL`, which wins over the
/// key, so that the password need be in neither the file nor `ps`), the records live in
/// PostgreSQL, and the embedded log's keys (`data_dir`, `fsync`, `segment_size`, `compression`)
/// are refused as a conflict naming both keys.
package struct DaemonConfiguration: Sendable {
    /// The environment variable that may hold the ingest token.
    package static let ingestTokenVariable = "ASCHED_INGEST_TOKEN"
    /// The environment variable that may hold the database URL; it wins over `database_url`.
    package static let databaseURLVariable = "ASCHED_DATABASE_URL"
    /// `instance_name`'s default, as the help text and the documentation write it.
    package static let defaultInstanceNameText = "<hostname>:<listen port>"
    /// `advertise_url`'s default, as the help text and the documentation write it.
    package static let defaultAdvertiseURLText = "http(s)://<listen host>:<port>"
    /// The embedded log's keys: meaningless, so refused, when the records are in a database.
    package static let embeddedLogKeys: [ConfigurationKey] = [.dataDir, .fsync, .segmentSize, .compression]

    /// The configuration file read (`--config`), which a reload reads again; nil when every key
    /// took its default.
    package var file: String?
    /// Where the log lives (`data_dir`). Default `./asched-data`, which a configuration file,
    /// like any relative path in it, resolves against its own directory.
    package var dataDirectory = "./asched-data"
    /// The PostgreSQL database holding the records instead of ``dataDirectory`` (`database_url`,
    /// or ``databaseURLVariable``, which wins). Default none: the embedded log.
    package var databaseURL: PostgresDatabaseURL?
    /// Where ``databaseURL`` was read from (the key, or the environment variable), for messages.
    package var databaseURLSource = ConfigurationKey.databaseURL.name
    /// How long the database's writer lease lasts past each renewal (every third of it), on the
    /// database's clock: a standby takes over this long after the active instance stopped
    /// renewing. Not a configuration key. Default 6 s.
    package var leaseDuration = Duration.seconds(6)
    /// How often an instance on a database compacts it (deletes completed transactions' records
    /// and writes the checkpoint, in one SQL transaction). Not a configuration key. Default 30 s.
    package var databaseCompactionInterval = Duration.seconds(30)
    /// `instance_name` as set; nil takes ``instanceName``'s default.
    private var instanceNameSetting: String?
    /// `advertise_url` as set, without a trailing `/`; nil takes ``advertiseURL(boundPort:)``'s default.
    private(set) var advertiseURLSetting: String?
    /// The host the HTTP API listens on (`listen`: `host:port`, before the colon; an IPv6 host
    /// goes in brackets, and the value in quotes since YAML reads `[` as a list). Default `127.0.0.1`.
    package var listenHost = "127.0.0.1"
    /// The port the HTTP API listens on (`listen`, after the colon); 0 picks a free one.
    /// Default 8448.
    package var listenPort = 8448
    /// The PEM certificate chain (leaf first) `listen` serves HTTPS with (`tls_certificate`), read
    /// at start with ``tlsKeyPath``; both or neither. Default none: plain HTTP.
    package var tlsCertificatePath: String?
    /// The PEM private key of ``tlsCertificatePath`` (`tls_key`). Default none.
    package var tlsKeyPath: String?
    /// A second address serving only `GET /metrics`, without a token, for a scraper on a network
    /// the ingest token should not cross (`metrics_listen`: `host:port`). Default none: metrics
    /// only on `listen`, behind the ingest token.
    package var metricsListen: (host: String, port: Int)?
    /// The bearer token HTTP API clients present (`ingest_token`). Default nil, which the
    /// daemon accepts only on a loopback address; loading a file that listens elsewhere without
    /// a token fails.
    package var ingestToken: String?
    /// The file the ingest token was read from (`ingest_token_file`: its only line, a trailing
    /// newline dropped). Default none.
    package var ingestTokenFile: String?
    /// When appends reach stable storage (`fsync`: `always`, `never`, or `interval` and a
    /// duration, as in `interval 5ms`). Default `always`.
    package var syncPolicy: SyncPolicy = .always
    /// The size at which a log segment is sealed (`segment_size`: bytes, or a whole number with
    /// `KiB`, `MiB` or `GiB`, as in `64MiB`). Default 64 MiB.
    package var segmentSizeBytes = 64 << 20
    /// How log payloads are compressed (`compression`: `lz4` or `none`). Default LZ4 for every
    /// payload of 128 bytes or more, not the library's ``Compression/default`` (only appends
    /// made during a commit): the daemon's appends come from many connections at once, so
    /// nearly all would be compressed either way, and compressing a lone one too costs about
    /// 1 µs per event beside its 100 µs sync and keeps the whole log compressed.
    package var compression = Self.lz4

    private static let lz4 = Compression.lz4(thresholdBytes: 128)
    /// Caps per transaction (`max_events_per_transaction`, `max_ephemeral_per_transaction`,
    /// `max_to_device_per_transaction`). Default `TransactionLimits()`, the scheduler's.
    package var limits = TransactionLimits()
    /// The recoverer's backoff (`backoff_initial`, `backoff_max`: a whole number with `ms`, `s`
    /// or `m`, as in `2s`). Default `BackoffPolicy()`, the scheduler's.
    package var backoff = BackoffPolicy()
    /// The largest HTTP request body accepted (`max_body_size`, a size). Default 1 MiB.
    package var bodyBytesMax = 1 << 20
    /// The largest transaction a homeserver may push through the relay (`max_relay_body_size`, a
    /// size). Default 32 MiB: Synapse sends up to 100 events of up to 64 KiB each plus ephemeral
    /// and to-device items (about 20 MiB), and it retries a 413 forever, wedging that bridge.
    package var relayBodyBytesMax = 32 << 20
    /// The bytes of relay request bodies being read at once, across all requests: past it a
    /// request gets a retryable 503 rather than a homeserver's catch-up exhausting memory. Not a
    /// configuration key; the relay takes at least ``relayBodyBytesMax``, so the largest
    /// transaction alone always fits. Default 64 MiB.
    package var relayBytesInFlightMax = 64 << 20
    /// `send_timeout`: how long one delivery attempt to a service may take (default 30 s).
    package var sendTimeout: Duration = .seconds(30)
    /// The log's size budget (`max_log_size`, a size or `none`): past it new items are refused
    /// with a retryable 503 while delivery goes on. Default none.
    package var logBytesMax = SchedulerConfiguration().logBytesMax
    /// The free space kept on the log's device (`min_free_space`, a size): under it new items are
    /// refused like over the budget. Default the scheduler's, 64 MiB.
    package var availableBytesMin = SchedulerConfiguration().availableBytesMin
    /// The application services, read from the files listed in `registrations`. Default none.
    package var registrations: [Registration] = []

    /// 4 KiB still holds a segment header and a frame; the upper bound catches a typo such as
    /// `64GiB` before it preallocates the disk away.
    static let segmentSizeRange = (4 << 10)...(4 << 30)
    /// A budget below a few segments would refuse everything; the upper bound is 1 PiB.
    static let logSizeRange = (16 << 20)...(1 << 50)
    static let freeSpaceRange = 0...(1 << 50)
    /// An enqueued body is stored as one log record, so it cannot exceed the log's record bound.
    static let bodySizeRange = (1 << 10)...SegmentLog.Configuration().recordBytesMax
    /// A relayed transaction is one log record too, and the log's record bound is raised to fit
    /// it (``recordBytesMax(relayBodyBytes:)``); the upper bound keeps that record within the
    /// frame format's 64 MiB.
    static let relayBodySizeRange = (1 << 20)...(56 << 20)
    /// The frame format's largest payload (docs/FORMAT.md).
    static let frameBytesMax = 64 << 20

    /// The log's record bound for relayed transactions of up to `relayBodyBytes`: a record holds
    /// the items re-serialized, each with a length prefix where the body had a comma, so it is
    /// about the body's size; the eighth and the MiB on top absorb what re-serializing adds.
    /// Never below the log's default, which enqueue's ``bodySizeRange`` relies on.
    static func recordBytesMax(relayBodyBytes: Int) -> Int {
        let bytes = max(SegmentLog.Configuration().recordBytesMax, relayBodyBytes + relayBodyBytes / 8 + (1 << 20))
        precondition(bytes <= frameBytesMax, "a relay body of \(relayBodyBytes) bytes needs records past the frame format's maximum")
        return bytes
    }

    /// The defaults listed on each property.
    package init() {}

    /// Reads the configuration file at `path`, and the registrations it lists; nil gives
    /// ``init()``'s defaults. `environment` may hold the ingest token (``ingestTokenVariable``).
    package static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigurationError) -> DaemonConfiguration {
        guard let path else {
            var configuration = DaemonConfiguration()
            try configuration.resolveIngestToken(environment: environment, mapping: nil)
            try configuration.resolveDatabaseURL(environment: environment, mapping: nil)
            return configuration
        }
        return try DaemonConfiguration(mapping: YAMLMapping.load(path: path), environment: environment)
    }

    /// Parses a configuration from YAML text; `file` names it in errors and its directory
    /// anchors relative paths. `environment` is consulted for the ingest token and the database
    /// URL only; by default none is.
    package init(yaml: String, file: String, environment: [String: String] = [:]) throws(ConfigurationError) {
        try self.init(mapping: YAMLMapping.parse(yaml: yaml, file: file), environment: environment)
    }

    private init(mapping: YAMLMapping, environment: [String: String]) throws(ConfigurationError) {
        try mapping.rejectUnknownKeys(Set(ConfigurationKey.allCases.map(\.name)))
        file = mapping.file
        let directory = URL(fileURLWithPath: mapping.file).deletingLastPathComponent()
        for key in ConfigurationKey.allCases {
            try read(key, from: mapping, directory: directory)
        }
        try resolveIngestToken(environment: environment, mapping: mapping)
        try resolveDatabaseURL(environment: environment, mapping: mapping)
        try checkTLSPair(in: mapping)
        if let metrics = metricsListen, metrics.host == listenHost, metrics.port == listenPort, metrics.port != 0 {
            throw mapping.invalid(ConfigurationKey.metricsListen.name, "is listen's address; give /metrics a port of its own")
        }
        if ingestToken == nil && !listensOnLoopback {
            throw .missingKey(file: mapping.file, key: ConfigurationKey.ingestToken.name,
                              reason: "required because listen (\(listenHost)) is not a loopback address")
        }
        guard backoff.initial <= backoff.maximum else {
            throw mapping.invalid(ConfigurationKey.backoffInitial.name,
                                  "\(backoff.initial) is longer than backoff_max (\(backoff.maximum))")
        }
    }

    /// Sets what `key` configures from `mapping`, or leaves its default when absent. Checks that
    /// involve two keys wait until all are read.
    private mutating func read(_ key: ConfigurationKey, from mapping: YAMLMapping,
                               directory: URL) throws(ConfigurationError) {
        let name = key.name
        switch key {
        case .dataDir:
            dataDirectory = Self.resolve(try mapping.string(name) ?? dataDirectory, against: directory)
        case .databaseURL:
            if let text = try mapping.string(name) {
                do {
                    databaseURL = try PostgresDatabaseURL(text)
                } catch {
                    throw mapping.invalid(name, "\(error)")
                }
            }
        case .instanceName:
            instanceNameSetting = try mapping.string(name)
            if instanceNameSetting?.isEmpty == true { throw mapping.invalid(name, "must not be empty") }
        case .advertiseURL:
            if let text = try mapping.string(name) {
                guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased()), url.host?.isEmpty == false,
                      url.query == nil, url.fragment == nil, url.user == nil else {
                    throw mapping.invalid(name, "\"\(text)\" is not an http:// or https:// URL with a host, such as http://10.0.0.5:8448")
                }
                advertiseURLSetting = text.hasSuffix("/") ? String(text.dropLast()) : text
            }
        case .listen:
            if let (host, port) = try mapping.listenAddress(name) { (listenHost, listenPort) = (host, port) }
        case .tlsCertificate:
            tlsCertificatePath = try Self.path(name, in: mapping, directory: directory)
        case .tlsKey:
            tlsKeyPath = try Self.path(name, in: mapping, directory: directory)
        case .metricsListen:
            metricsListen = try mapping.listenAddress(name)
        case .ingestToken:
            ingestToken = try mapping.string(name)
            if ingestToken?.isEmpty == true { throw mapping.invalid(name, "must not be empty") }
        case .ingestTokenFile:
            ingestTokenFile = try Self.path(name, in: mapping, directory: directory)
        case .fsync:
            syncPolicy = try mapping.syncPolicy(name) ?? syncPolicy
        case .segmentSize:
            segmentSizeBytes = try mapping.size(name, in: Self.segmentSizeRange) ?? segmentSizeBytes
        case .compression:
            compression = try Self.compression(in: mapping) ?? compression
        case .maxEventsPerTransaction:
            limits.eventsMax = try mapping.positiveCount(name) ?? limits.eventsMax
        case .maxEphemeralPerTransaction:
            limits.ephemeralMax = try mapping.positiveCount(name) ?? limits.ephemeralMax
        case .maxToDevicePerTransaction:
            limits.toDeviceMax = try mapping.positiveCount(name) ?? limits.toDeviceMax
        case .backoffInitial:
            backoff.initial = try mapping.duration(name) ?? backoff.initial
        case .backoffMax:
            backoff.maximum = try mapping.duration(name) ?? backoff.maximum
        case .maxBodySize:
            bodyBytesMax = try mapping.size(name, in: Self.bodySizeRange) ?? bodyBytesMax
        case .maxRelayBodySize:
            relayBodyBytesMax = try mapping.size(name, in: Self.relayBodySizeRange) ?? relayBodyBytesMax
        case .sendTimeout:
            sendTimeout = try mapping.duration(name) ?? sendTimeout
        case .maxLogSize:
            if try mapping.string(name) != "none" {
                logBytesMax = try mapping.size(name, in: Self.logSizeRange) ?? logBytesMax
            }
        case .minFreeSpace:
            availableBytesMin = try mapping.size(name, in: Self.freeSpaceRange) ?? availableBytesMin
        case .registrations:
            registrations = try Self.registrations(in: mapping, directory: directory)
        }
    }

    /// A path-valued key, resolved against the configuration file's directory; nil when absent.
    private static func path(_ key: String, in mapping: YAMLMapping, directory: URL) throws(ConfigurationError) -> String? {
        guard let text = try mapping.string(key) else { return nil }
        guard !text.isEmpty else { throw mapping.invalid(key, "must be the path of a file") }
        return resolve(text, against: directory)
    }

    /// `tls_certificate` and `tls_key` come together: half of a TLS setup is a mistake, never a
    /// reason to fall back to plain HTTP.
    private func checkTLSPair(in mapping: YAMLMapping) throws(ConfigurationError) {
        switch (tlsCertificatePath, tlsKeyPath) {
        case (nil, nil), (.some, .some):
            return
        case (.some, nil):
            throw .missingKey(file: mapping.file, key: ConfigurationKey.tlsKey.name, reason: "required with tls_certificate")
        case (nil, .some):
            throw .missingKey(file: mapping.file, key: ConfigurationKey.tlsCertificate.name, reason: "required with tls_key")
        }
    }

    /// Settles ``ingestToken`` from its one source: `ingest_token` (already read),
    /// `ingest_token_file`, or ``ingestTokenVariable`` in `environment`. Messages name the
    /// sources, never the token.
    private mutating func resolveIngestToken(environment: [String: String], mapping: YAMLMapping?) throws(ConfigurationError) {
        let variable = environment[Self.ingestTokenVariable]
        let sources = [
            ingestToken.map { _ in ConfigurationKey.ingestToken.name },
            ingestTokenFile.map { _ in ConfigurationKey.ingestTokenFile.name },
            variable.map { _ in "the environment variable \(Self.ingestTokenVariable)" },
        ].compactMap { $0 }
        let file = mapping?.file ?? "the environment"
        if sources.count > 1 {
            throw .invalidValue(file: file, key: sources[0],
                                reason: "the ingest token is also set by \(sources.dropFirst().joined(separator: " and ")); keep one of them")
        }
        if let path = ingestTokenFile {
            ingestToken = try Self.token(inFile: path, configurationFile: file)
        }
        if let variable {
            guard !variable.isEmpty else {
                throw .invalidValue(file: file, key: Self.ingestTokenVariable, reason: "is set but empty; unset it or give the token")
            }
            ingestToken = variable
        }
    }

    /// Settles ``databaseURL``: ``databaseURLVariable`` in `environment` wins over `database_url`
    /// (already read). With a database, a key of the embedded log in the file is a conflict named
    /// with the URL's source. Messages never repeat the URL, which may hold a password.
    private mutating func resolveDatabaseURL(environment: [String: String], mapping: YAMLMapping?) throws(ConfigurationError) {
        let file = mapping?.file ?? "the environment"
        if let variable = environment[Self.databaseURLVariable] {
            let key = Self.databaseURLVariable
            guard !variable.isEmpty else { throw .invalidValue(file: file, key: key, reason: "is set but empty; unset it or give the URL") }
            do {
                databaseURL = try PostgresDatabaseURL(variable)
            } catch {
                throw .invalidValue(file: file, key: key, reason: "\(error)")
            }
            databaseURLSource = "the environment variable \(key)"
        }
        if databaseURL == nil, advertiseURLSetting != nil, let mapping {
            throw mapping.invalid(ConfigurationKey.advertiseURL.name, "is where the other instances on a database forward to; "
                                  + "without database_url (or \(Self.databaseURLVariable)) there are none: remove it")
        }
        guard databaseURL != nil, let mapping else { return }
        // Every key was read already, so each of these is absent or a valid scalar.
        if let key = Self.embeddedLogKeys.first(where: { ((try? mapping.string($0.name)) ?? nil) != nil }) {
            throw mapping.invalid(key.name, "conflicts with \(databaseURLSource): with a database the records are in PostgreSQL "
                                  + "and \(key.name) is the embedded log's; remove one of them")
        }
    }

    /// The token in the file at `path`: its one line, trailing newlines dropped (an editor or
    /// `echo` adds one; a token never ends in one).
    private static func token(inFile path: String, configurationFile: String) throws(ConfigurationError) -> String {
        let key = ConfigurationKey.ingestTokenFile.name
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .invalidValue(file: configurationFile, key: key, reason: "cannot read \(path): \((error as NSError).localizedDescription)")
        }
        guard var token = String(data: data, encoding: .utf8)?[...] else {
            throw .invalidValue(file: configurationFile, key: key, reason: "\(path) is not UTF-8 text")
        }
        while token.last?.isNewline == true { token.removeLast() }
        guard !token.isEmpty else {
            throw .invalidValue(file: configurationFile, key: key, reason: "\(path) is empty; write the token in it")
        }
        guard !token.contains(where: \.isNewline) else {
            throw .invalidValue(file: configurationFile, key: key, reason: "\(path) holds more than one line; the token must be its only line")
        }
        return String(token)
    }

    private static func compression(in mapping: YAMLMapping) throws(ConfigurationError) -> Compression? {
        let name = ConfigurationKey.compression.name
        switch try mapping.string(name) {
        case nil: return nil
        case "lz4": return lz4
        case "none": return Compression.none
        case let text?: throw mapping.invalid(name, "\"\(text)\" is not lz4 or none")
        }
    }

    private static func registrations(in mapping: YAMLMapping, directory: URL) throws(ConfigurationError) -> [Registration] {
        var registrations: [Registration] = []
        for (index, node) in try mapping.list(ConfigurationKey.registrations.name).enumerated() {
            guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
                throw mapping.invalid("registrations[\(index)]", "must be the path of a registration file")
            }
            let registration: Registration
            do {
                registration = try Registration.load(path: resolve(scalar.string, against: directory))
            } catch .unreadable(let file, let reason) {
                // A missing registration is most often a wrong path here, so point at the entry.
                throw mapping.invalid("registrations[\(index)]", "cannot read \(file): \(reason)")
            }
            if let earlier = registrations.first(where: { $0.id == registration.id }) {
                throw mapping.invalid("registrations[\(index)]",
                                      "service id \"\(registration.id)\" is already registered by \(earlier.file)")
            }
            registrations.append(registration)
        }
        return registrations
    }

    private static func resolve(_ path: String, against directory: URL) -> String {
        path.hasPrefix("/") ? path : directory.appendingPathComponent(path).standardizedFileURL.path
    }

    /// Whether ``listenHost`` is a loopback address, where the API may run without a token.
    package var listensOnLoopback: Bool { YAMLMapping.isLoopback(host: listenHost) }

    /// The scheduler's settings: ``limits``, ``backoff``, and the log's segment size, sync
    /// policy, compression and record bound (raised to fit ``relayBodyBytesMax``).
    package var schedulerConfiguration: SchedulerConfiguration {
        var configuration = SchedulerConfiguration()
        configuration.limits = limits
        configuration.backoff = backoff
        configuration.log.segmentSizeBytes = segmentSizeBytes
        configuration.log.syncPolicy = syncPolicy
        configuration.log.compression = compression
        configuration.log.recordBytesMax = Self.recordBytesMax(relayBodyBytes: relayBodyBytesMax)
        configuration.logBytesMax = logBytesMax
        configuration.availableBytesMin = availableBytesMin
        return configuration
    }

    /// This instance's name (`instance_name`): the writer lease's holder in the database and the
    /// `owner` of the services it delivers. Default `<hostname>:<listen port>` (the configured
    /// port, so with port 0 name the instance to tell several apart).
    package var instanceName: String {
        get { instanceNameSetting ?? "\(ProcessInfo.processInfo.hostName):\(listenPort)" }
        set { instanceNameSetting = newValue }
    }

    /// Where the other instances on the database forward the requests they receive while this
    /// one holds the writer lease (`advertise_url`). Default: the scheme `listen` serves, its
    /// host (this machine's hostname when it listens on every interface) and `boundPort`, the
    /// port it listens on (the configured one, unless that is 0).
    package func advertiseURL(boundPort: Int) -> String {
        if let advertiseURLSetting { return advertiseURLSetting }
        let scheme = tlsCertificatePath == nil ? "http" : "https"
        let host = ["0.0.0.0", "::"].contains(listenHost) ? ProcessInfo.processInfo.hostName
            : listenHost.contains(":") ? "[\(listenHost)]" : listenHost
        return "\(scheme)://\(host):\(boundPort)"
    }

    /// The services to schedule, one per registration, in file order.
    package var serviceDescriptors: [ServiceDescriptor] { registrations.map(\.descriptor) }

    /// A router over ``registrations``.
    package var router: NamespaceRouter { NamespaceRouter(registrations: registrations) }
}
