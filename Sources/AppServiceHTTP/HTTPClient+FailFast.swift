import AsyncHTTPClient
import NIOSSL

extension HTTPClient {
    /// A client on which a refused connection fails the request at once. By default the pool
    /// retries connecting until the connect timeout, so a peer that is down (a service, an
    /// instance that died) would cost every request that whole timeout instead of an immediate
    /// failure its caller can act on (mark the service DOWN, answer a retryable 503).
    ///
    /// `readTimeout` bounds the wait between bytes of an answer; `trustRoots` are trusted besides
    /// the system's authorities (peers serving the deployment's own certificate).
    static func failingFast(connectTimeout: Duration, readTimeout: Duration? = nil,
                            trustRoots: [NIOSSLCertificate] = []) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        if !trustRoots.isEmpty {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.certificates(trustRoots)]
            configuration.tlsConfiguration = tls
        }
        configuration.timeout = .init(connect: connectTimeout.timeAmount, read: readTimeout?.timeAmount)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}
