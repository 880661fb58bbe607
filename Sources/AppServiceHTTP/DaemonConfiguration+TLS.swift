import Foundation
import NIOSSL

extension DaemonConfiguration {
    /// The TLS server settings `listen` serves HTTPS with, read from ``tlsCertificatePath`` and
    /// ``tlsKeyPath``; nil without them (plain HTTP).
    ///
    /// Every file is read and checked now, at start: a missing or unreadable file, one that is
    /// not PEM, an encrypted key, or a key that is not the certificate's throws, naming the
    /// configuration key and the file, instead of every handshake failing later.
    ///
    /// ```swift
    /// if let tls = try configuration.serverTLSConfiguration() { … }   // "asched.yaml: tls_key: …"
    /// ```
    package func serverTLSConfiguration() throws(ConfigurationError) -> TLSConfiguration? {
        guard let certificatePath = tlsCertificatePath, let keyPath = tlsKeyPath else { return nil }
        let keyKey = ConfigurationKey.tlsKey.name
        let chain = try certificateChain(certificatePath)
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(bytes: try pemBytes(keyPath, key: keyKey), format: .pem)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw tlsError(keyKey, "\(keyPath) is not an unencrypted PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        // The library's default still accepts TLS 1.0 and 1.1, which no homeserver needs.
        configuration.minimumTLSVersion = .tlsv12
        do {
            // Building a context installs the key beside the certificate, which checks that they
            // belong together; the server builds its own from the same settings.
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw tlsError(keyKey, "\(keyPath) is not the private key of \(certificatePath) (\(error))")
        }
        return configuration
    }

    /// The certificates of ``tlsCertificatePath``, which a standby trusts (beside the system's
    /// authorities) when it forwards to the active instance over HTTPS: instances of one
    /// deployment serve the same certificate, or ones of the same private authority, whose
    /// chain the file then holds. Empty without HTTPS.
    package func peerTrustRoots() throws(ConfigurationError) -> [NIOSSLCertificate] {
        guard let certificatePath = tlsCertificatePath else { return [] }
        return try certificateChain(certificatePath)
    }

    /// The certificates in the PEM file at `path` (`tls_certificate`), at least one.
    private func certificateChain(_ path: String) throws(ConfigurationError) -> [NIOSSLCertificate] {
        let key = ConfigurationKey.tlsCertificate.name
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(try pemBytes(path, key: key))
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw tlsError(key, "\(path) is not a PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw tlsError(key, "\(path) holds no PEM certificate") }
        return chain
    }

    private func pemBytes(_ path: String, key: String) throws(ConfigurationError) -> [UInt8] {
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw tlsError(key, "cannot read \(path): \((error as NSError).localizedDescription)")
        }
    }

    private func tlsError(_ key: String, _ reason: String) -> ConfigurationError {
        .invalidValue(file: file ?? "configuration", key: key, reason: reason)
    }
}
