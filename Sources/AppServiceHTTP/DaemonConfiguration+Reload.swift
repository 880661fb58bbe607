extension DaemonConfiguration {
    /// The keys, other than `registrations`, whose values differ in `reloaded`: a reload puts
    /// only the registrations in force, so these wait for a restart. Names only, since
    /// `ingest_token` is among the values compared.
    package func keysNeedingRestart(toApply reloaded: DaemonConfiguration) -> [String] {
        ConfigurationKey.allCases.filter { key in
            key != .registrations && comparableValue(of: key) != reloaded.comparableValue(of: key)
        }.map(\.name)
    }

    /// What `key` sets, as text to compare (never to show). Exhaustive, so a new key must say
    /// how a reload notices it changed.
    private func comparableValue(of key: ConfigurationKey) -> String {
        switch key {
        case .dataDir: dataDirectory
        case .databaseURL: databaseURL.map { "\($0) \($0.password ?? "")" } ?? ""
        case .instanceName: instanceName
        case .advertiseURL: advertiseURLSetting ?? ""
        case .listen: "\(listenHost):\(listenPort)"
        case .tlsCertificate: tlsCertificatePath ?? ""
        case .tlsKey: tlsKeyPath ?? ""
        case .metricsListen: metricsListen.map { "\($0.host):\($0.port)" } ?? ""
        case .ingestToken: ingestToken ?? ""
        case .ingestTokenFile: ingestTokenFile ?? ""
        case .fsync: "\(syncPolicy)"
        case .segmentSize: "\(segmentSizeBytes)"
        case .compression: "\(compression)"
        case .maxEventsPerTransaction: "\(limits.eventsMax)"
        case .maxEphemeralPerTransaction: "\(limits.ephemeralMax)"
        case .maxToDevicePerTransaction: "\(limits.toDeviceMax)"
        case .backoffInitial: "\(backoff.initial)"
        case .backoffMax: "\(backoff.maximum)"
        case .maxBodySize: "\(bodyBytesMax)"
        case .maxRelayBodySize: "\(relayBodyBytesMax)"
        case .sendTimeout: "\(sendTimeout)"
        case .maxLogSize: logBytesMax.map { "\($0)" } ?? "none"
        case .minFreeSpace: "\(availableBytesMin)"
        case .registrations: ""
        }
    }
}
