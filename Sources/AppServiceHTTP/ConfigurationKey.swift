/// A key of the `asched serve` configuration file, and the one list of them.
///
/// Parsing (an exhaustive switch in ``DaemonConfiguration``), the refusal of unknown keys and
/// the key list of `asched serve --help` derive from this enum; `ConfigurationKeyTests` checks
/// `Fixtures/asched/asched.yaml` (which uses every key) and the table in `docs/OPERATIONS.md`
/// against it. Adding a key means adding a case here: the compiler then asks for its syntax,
/// default, summary and parsing, and the tests for its fixture line and documentation row.
package enum ConfigurationKey: String, CaseIterable, Sendable {
    case dataDir = "data_dir"
    case databaseURL = "database_url"
    case listen
    case instanceName = "instance_name"
    case advertiseURL = "advertise_url"
    case tlsCertificate = "tls_certificate"
    case tlsKey = "tls_key"
    case metricsListen = "metrics_listen"
    case ingestToken = "ingest_token"
    case ingestTokenFile = "ingest_token_file"
    case fsync
    case segmentSize = "segment_size"
    case compression
    case maxEventsPerTransaction = "max_events_per_transaction"
    case maxEphemeralPerTransaction = "max_ephemeral_per_transaction"
    case maxToDevicePerTransaction = "max_to_device_per_transaction"
    case backoffInitial = "backoff_initial"
    case backoffMax = "backoff_max"
    case maxBodySize = "max_body_size"
    case maxRelayBodySize = "max_relay_body_size"
    case sendTimeout = "send_timeout"
    case maxLogSize = "max_log_size"
    case minFreeSpace = "min_free_space"
    case registrations

    /// The key as written in the file.
    package var name: String { rawValue }

    /// The kind of value the key takes, in the syntax of `YAMLMapping+Units.swift`.
    package var syntax: String {
        switch self {
        case .dataDir, .tlsCertificate, .tlsKey, .ingestTokenFile: "path"
        case .databaseURL: "postgres://USER:PASSWORD@HOST:PORT/DB"
        case .listen, .metricsListen: "host:port"
        case .advertiseURL: "http(s)://host:port"
        case .ingestToken, .instanceName: "string"
        case .fsync: "always, never or interval <duration>"
        case .segmentSize, .maxBodySize, .maxRelayBodySize, .minFreeSpace: "size"
        case .maxLogSize: "size or none"
        case .compression: "lz4 or none"
        case .maxEventsPerTransaction, .maxEphemeralPerTransaction, .maxToDevicePerTransaction: "count"
        case .backoffInitial, .backoffMax, .sendTimeout: "duration"
        case .registrations: "list of paths"
        }
    }

    /// The value an absent key takes, as it would be written in the file; read from
    /// ``DaemonConfiguration/init()`` (and so from the scheduler's own defaults), never restated.
    package var defaultValue: String {
        let defaults = DaemonConfiguration()
        switch self {
        case .dataDir: return defaults.dataDirectory
        case .databaseURL: return "none"
        case .instanceName: return DaemonConfiguration.defaultInstanceNameText
        case .advertiseURL: return DaemonConfiguration.defaultAdvertiseURLText
        case .listen:
            let host = defaults.listenHost.contains(":") ? "[\(defaults.listenHost)]" : defaults.listenHost
            return "\(host):\(defaults.listenPort)"
        case .tlsCertificate, .tlsKey, .metricsListen, .ingestToken, .ingestTokenFile: return "none"
        case .fsync: return YAMLMapping.text(defaults.syncPolicy)
        case .segmentSize: return YAMLMapping.sizeText(defaults.segmentSizeBytes)
        case .compression: return defaults.compression == .none ? "none" : "lz4"
        case .maxEventsPerTransaction: return "\(defaults.limits.eventsMax)"
        case .maxEphemeralPerTransaction: return "\(defaults.limits.ephemeralMax)"
        case .maxToDevicePerTransaction: return "\(defaults.limits.toDeviceMax)"
        case .backoffInitial: return YAMLMapping.durationText(defaults.backoff.initial)
        case .backoffMax: return YAMLMapping.durationText(defaults.backoff.maximum)
        case .maxBodySize: return YAMLMapping.sizeText(defaults.bodyBytesMax)
        case .maxRelayBodySize: return YAMLMapping.sizeText(defaults.relayBodyBytesMax)
        case .sendTimeout: return YAMLMapping.durationText(defaults.sendTimeout)
        case .maxLogSize: return defaults.logBytesMax.map(YAMLMapping.sizeText) ?? "none"
        case .minFreeSpace: return YAMLMapping.sizeText(defaults.availableBytesMin)
        case .registrations: return "none"
        }
    }

    /// What the key sets, in one line short enough for a terminal's help text.
    package var summary: String {
        switch self {
        case .dataDir: "the log directory; relative to the configuration file's directory"
        case .databaseURL: "records in PostgreSQL, not data_dir; or \(DaemonConfiguration.databaseURLVariable)"
        case .instanceName: "this instance's name in GET /_asched/v1/services and the lease"
        case .advertiseURL: "where standbys forward to; a 0.0.0.0 or :: host is the hostname"
        case .listen: "the HTTP API's address; IPv6 as \"[::1]:8448\"; port 0 picks a free port"
        case .tlsCertificate: "PEM certificate chain; with tls_key, listen serves HTTPS"
        case .tlsKey: "PEM private key of tls_certificate, not encrypted"
        case .metricsListen: "another address serving /metrics without a token"
        case .ingestToken: "bearer token of the ingest/admin API; required unless listen is loopback"
        case .ingestTokenFile: "file holding ingest_token instead; or set \(DaemonConfiguration.ingestTokenVariable)"
        case .fsync: "when appends reach the disk; under interval, acks may precede the sync"
        case .segmentSize: "size at which a log segment is sealed (\(Self.rangeText(DaemonConfiguration.segmentSizeRange)))"
        case .compression: "lz4 compresses payloads of 128 bytes or more, kept only when smaller"
        case .maxEventsPerTransaction: "most persistent events in one transaction"
        case .maxEphemeralPerTransaction: "most ephemeral events in one transaction"
        case .maxToDevicePerTransaction: "most to-device messages in one transaction"
        case .backoffInitial: "first wait before retrying a DOWN service; doubles after each failure"
        case .backoffMax: "longest wait before retrying a DOWN service; at least backoff_initial"
        case .maxBodySize: "largest HTTP request body (\(Self.rangeText(DaemonConfiguration.bodySizeRange))); larger ones get 413"
        case .maxRelayBodySize: "largest relayed transaction (\(Self.rangeText(DaemonConfiguration.relayBodySizeRange))); larger get 413"
        case .sendTimeout: "longest delivery attempt to a service; past it the attempt fails"
        case .maxLogSize: "log size past which new items get a retryable 503; delivery goes on"
        case .minFreeSpace: "free disk space under which new items get that 503 too"
        case .registrations: "Synapse-format registration files, one service each"
        }
    }

    /// Every key, two lines each (name, syntax and default; then the summary), as
    /// `asched serve --help` lists them.
    package static var helpText: String {
        allCases.map { "  \($0.name) (\($0.syntax), default \($0.defaultValue))\n      \($0.summary)" }
            .joined(separator: "\n")
    }

    private static func rangeText(_ range: ClosedRange<Int>) -> String {
        "\(YAMLMapping.sizeText(range.lowerBound)) to \(YAMLMapping.sizeText(range.upperBound))"
    }
}
