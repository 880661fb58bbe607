import AppServiceHTTP
import AsyncHTTPClient
import Foundation
import NIOSSL
import Testing

/// A self-signed certificate for `127.0.0.1` and `localhost`, with its key, made by the openssl
/// command in a scratch directory for one test.
struct ThrowawayCertificate {
    let directory: String
    var certificate: String { directory + "/cert.pem" }
    var key: String { directory + "/key.pem" }

    static func make() throws -> ThrowawayCertificate {
        let made = ThrowawayCertificate(directory: try Fixtures.scratchDirectory(files: [:]))
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", made.key, "-out", made.certificate, "-days", "2", "-subj", "/CN=localhost",
                     "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        return made
    }

    /// Writes another key, which is not this certificate's, to `path`.
    func otherKey(at path: String) throws {
        try Self.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", path])
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "openssl \(arguments.first ?? "") failed; tools/setup installs openssl")
    }
}

/// `tls_certificate` and `tls_key`: HTTPS on `listen`, and start-up refused over a bad file.
struct TLSTests {
    func configuration(_ certificate: ThrowawayCertificate) -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        configuration.dataDirectory = certificate.directory + "/data"
        configuration.listenPort = 0
        configuration.tlsCertificatePath = certificate.certificate
        configuration.tlsKeyPath = certificate.key
        configuration.file = certificate.directory + "/asched.yaml"
        return configuration
    }

    @Test func aClientTrustingTheCertificateVerifiesTheServer() async throws {
        let certificate = try ThrowawayCertificate.make()
        defer { try? FileManager.default.removeItem(atPath: certificate.directory) }
        let daemon = try await LiveDaemon.start(configuration(certificate))
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificate.certificate))
        var trusting = HTTPClient.Configuration()
        trusting.tlsConfiguration = tls
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: trusting)
        var once = HTTPClient.Configuration()
        // A refused handshake fails the request at once instead of being retried until the deadline.
        once.connectionPool.retryConnectionEstablishment = false
        let stranger = HTTPClient(eventLoopGroupProvider: .singleton, configuration: once)
        do {
            let health = try await client.answer(.GET, "https://127.0.0.1:\(daemon.port)/healthz")
            #expect(health.status == 200 && health.json["status"] as? String == "ok")
            // Certificate verification is what the client relies on: one with only the system's
            // roots refuses a self-signed certificate, and plain HTTP gets no HTTP answer.
            let refused = await #expect(throws: (any Error).self) {
                _ = try await stranger.answer(.GET, "https://127.0.0.1:\(daemon.port)/healthz")
            }
            #expect(refused.map { "\($0)" }?.contains("CERTIFICATE_VERIFY_FAILED") == true, "\(refused.map { "\($0)" } ?? "")")
            await #expect(throws: (any Error).self) {
                _ = try await stranger.answer(.GET, "http://127.0.0.1:\(daemon.port)/healthz", timeout: .seconds(5))
            }
        } catch {
            Issue.record("\(error)")
        }
        try await client.shutdown()
        try await stranger.shutdown()
        try await daemon.stop()
    }

    @Test func aKeyThatIsNotPEMStopsStartUpNamingTheKeyAndFile() async throws {
        let certificate = try ThrowawayCertificate.make()
        defer { try? FileManager.default.removeItem(atPath: certificate.directory) }
        try "not a key\n".write(toFile: certificate.key, atomically: true, encoding: .utf8)
        let configuration = configuration(certificate)
        let text = errorText { _ = try configuration.serverTLSConfiguration() }
        #expect(text?.hasPrefix("\(certificate.directory)/asched.yaml: tls_key: \(certificate.key) is not an unencrypted PEM private key") == true,
                "\(text ?? "")")
        await #expect(throws: ConfigurationError.self) {
            _ = try await Daemon.buildApplication(configuration: configuration, logger: .init(label: "tls-test"))
        }
        #expect(!FileManager.default.fileExists(atPath: configuration.dataDirectory), "refused before the log was opened")
    }

    @Test func anotherCertificatesKeyIsRefused() throws {
        let certificate = try ThrowawayCertificate.make()
        defer { try? FileManager.default.removeItem(atPath: certificate.directory) }
        try certificate.otherKey(at: certificate.key)
        let text = errorText { _ = try configuration(certificate).serverTLSConfiguration() }
        #expect(text?.contains("tls_key: \(certificate.key) is not the private key of \(certificate.certificate)") == true, "\(text ?? "")")
    }

    @Test func aMissingOrEmptyCertificateIsRefused() throws {
        let certificate = try ThrowawayCertificate.make()
        defer { try? FileManager.default.removeItem(atPath: certificate.directory) }
        var missing = configuration(certificate)
        missing.tlsCertificatePath = certificate.directory + "/nowhere.pem"
        let missingText = errorText { _ = try missing.serverTLSConfiguration() }
        #expect(missingText?.contains("tls_certificate: cannot read \(certificate.directory)/nowhere.pem") == true, "\(missingText ?? "")")
        try "".write(toFile: certificate.certificate, atomically: true, encoding: .utf8)
        let emptyText = errorText { _ = try configuration(certificate).serverTLSConfiguration() }
        #expect(emptyText?.contains("tls_certificate: \(certificate.certificate)") == true, "\(emptyText ?? "")")
    }

    @Test func thePairIsReadRelativeToTheFileAndComesTogether() throws {
        let parse = { (yaml: String) throws in try DaemonConfiguration(yaml: yaml, file: Fixtures.path("inline.yaml")) }
        let both = try parse("tls_certificate: tls/cert.pem\ntls_key: /etc/asched/key.pem")
        #expect(both.tlsCertificatePath == Fixtures.path("tls/cert.pem") && both.tlsKeyPath == "/etc/asched/key.pem")
        #expect(throws: ConfigurationError.missingKey(file: Fixtures.path("inline.yaml"), key: "tls_key", reason: "required with tls_certificate")) {
            try parse("tls_certificate: cert.pem")
        }
        #expect(throws: ConfigurationError.missingKey(file: Fixtures.path("inline.yaml"), key: "tls_certificate", reason: "required with tls_key")) {
            try parse("tls_key: key.pem")
        }
        #expect(try parse("").serverTLSConfiguration() == nil, "no files, plain HTTP")
    }
}
