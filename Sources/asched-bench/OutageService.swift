import AppServiceHTTP
import Foundation
import Glibc
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The loopback application services of the outage scenario: `down` answers 500 until it is
/// brought back, `up` always accepts. Counts what each receives (events by a marker every event
/// carries, not by parsing: the service must not be what limits the drain on two cores).
final class OutageService: Sendable {
    struct Arrival {
        let seconds: Double
        let events: Int
    }

    struct Received {
        var downAnswers500 = true
        /// Ids of the `down` transactions accepted, so a resent one is counted once.
        var downIDs: Set<Substring> = []
        var downEvents = 0
        var downFullTransactions = 0
        /// Each accepted `down` transaction: seconds since ``drainStarted`` and its events.
        var arrivals: [Arrival] = []
        var drainStarted: ContinuousClock.Instant?
        var upEvents = 0
    }

    static let marker = Array("m.room.message".utf8)
    let received = Mutex(Received())

    func application(port: ListeningPort, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.put("down/_matrix/app/v1/transactions/:txn") { request, context -> Response in
            if self.received.withLock({ $0.downAnswers500 }) {
                return Self.answer(.internalServerError, "{\"errcode\":\"M_UNKNOWN\",\"error\":\"down for the benchmark\"}")
            }
            let body = try await request.body.collect(upTo: 64 << 20)
            let events = Self.count(Self.marker, in: body)
            let id = context.parameters.get("txn") ?? ""
            let now = ContinuousClock.now
            self.received.withLock { state in
                guard state.downIDs.insert(Substring(id)).inserted else { return }
                state.downEvents += events
                if events == 100 { state.downFullTransactions += 1 }
                let started = state.drainStarted ?? now
                state.arrivals.append(Arrival(seconds: EndToEnd.seconds(now - started), events: events))
            }
            return Self.answer(.ok, "{}")
        }
        router.put("up/_matrix/app/v1/transactions/:txn") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            let events = Self.count(Self.marker, in: body)
            self.received.withLock { $0.upEvents += events }
            return Self.answer(.ok, "{}")
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                           onServerRunning: { await port.set($0.localAddress!.port!) }, logger: logger)
    }

    /// Brings `down` back; the drain's clock starts now.
    func bringBack() {
        received.withLock {
            $0.downAnswers500 = false
            $0.drainStarted = ContinuousClock.now
        }
    }

    private static func answer(_ status: HTTPResponse.Status, _ json: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }

    /// Occurrences of `needle` in `buffer` (memchr for its first byte, then memcmp).
    static func count(_ needle: [UInt8], in buffer: ByteBuffer) -> Int {
        buffer.withUnsafeReadableBytes { haystack in
            needle.withUnsafeBytes { needle in
                guard let base = haystack.baseAddress, let first = needle.first else { return 0 }
                var index = 0
                var found = 0
                while index + needle.count <= haystack.count,
                      let hit = memchr(base + index, Int32(first), haystack.count - needle.count + 1 - index) {
                    let offset = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(hit, needle.baseAddress!, needle.count) == 0 {
                        found += 1
                        index = offset + needle.count
                    } else {
                        index = offset + 1
                    }
                }
                return found
            }
        }
    }
}
