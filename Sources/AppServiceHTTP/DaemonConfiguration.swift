import AppServiceScheduler
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
/// ignored. Relative paths (`data_dir`, `registrations`) are resolved against the directory of
/// the configuration file, so the daemon reads the same files whatever its working directory;
/// without a file, `data_dir` is relative to the working directory.
package struct DaemonConfiguration: Sendable {
    /// Where the log lives (`data_dir`). Default `./asched-data`, which a configuration file,
    /// like any relative path in it, resolves against its own directory.
    package var dataDirectory = "./asched-data"
    /// The host the HTTP API listens on (`listen`: `host:port`, before the colon; an IPv6 host
    /// goes in brackets, and the value in quotes since YAML reads `[` as a list). Default `127.0.0.1`.
    package var listenHost = "127.0.0.1"
    /// The port the HTTP API listens on (`listen`, after the colon); 0 picks a free one.
    /// Default 8448.
    package var listenPort = 8448
    /// The bearer token HTTP API clients present (`ingest_token`). Default nil, which the
    /// daemon accepts only on a loopback address; loading a file that listens elsewhere without
    /// a token fails.
    package var ingestToken: String?
    /// When appends reach stable storage (`fsync`: `always`, `never`, or `interval` and a
    /// duration, as in `interval 5ms`). Default `always`.
    package var syncPolicy: SyncPolicy = .always
    /// The size at which a log segment is sealed (`segment_size`: bytes, or a whole number with
    /// `KiB`, `MiB` or `GiB`, as in `64MiB`). Default 64 MiB.
    package var segmentSizeBytes = 64 << 20
    /// How log payloads are compressed (`compression`: `lz4` or `none`). Default LZ4 for
    /// payloads of 128 bytes or more.
    package var compression: Compression = .default
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
    /// ``init()``'s defaults.
    package static func load(path: String?) throws(ConfigurationError) -> DaemonConfiguration {
        guard let path else { return DaemonConfiguration() }
        return try DaemonConfiguration(mapping: YAMLMapping.load(path: path))
    }

    /// Parses a configuration from YAML text; `file` names it in errors and its directory
    /// anchors relative paths.
    package init(yaml: String, file: String) throws(ConfigurationError) {
        try self.init(mapping: YAMLMapping.parse(yaml: yaml, file: file))
    }

    private init(mapping: YAMLMapping) throws(ConfigurationError) {
        try mapping.rejectUnknownKeys(Set(ConfigurationKey.allCases.map(\.name)))
        let directory = URL(fileURLWithPath: mapping.file).deletingLastPathComponent()
        for key in ConfigurationKey.allCases {
            try read(key, from: mapping, directory: directory)
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
        case .listen:
            if let (host, port) = try mapping.listenAddress(name) { (listenHost, listenPort) = (host, port) }
        case .ingestToken:
            ingestToken = try mapping.string(name)
            if ingestToken?.isEmpty == true { throw mapping.invalid(name, "must not be empty") }
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

    private static func compression(in mapping: YAMLMapping) throws(ConfigurationError) -> Compression? {
        let name = ConfigurationKey.compression.name
        switch try mapping.string(name) {
        case nil: return nil
        case "lz4": return .default
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

    /// The services to schedule, one per registration, in file order.
    package var serviceDescriptors: [ServiceDescriptor] { registrations.map(\.descriptor) }

    /// A router over ``registrations``.
    package var router: NamespaceRouter { NamespaceRouter(registrations: registrations) }
}
