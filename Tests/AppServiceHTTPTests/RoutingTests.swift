import AppServiceHTTP
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Routing comes before auth, and every answer is Matrix JSON: an unknown route is a 404 and a
/// wrong method a 405, both `M_UNRECOGNIZED`, whatever the token; only then does a route ask
/// for its own token.
@Suite struct RoutingTests {
    static let ircHSToken = "hs_irc_5e2f8a1c07d94b6aa3f0"
    /// No token, a wrong one, the ingest token and a relay token: none changes a routing answer.
    static let tokens: [String?] = [nil, "wrong-token", HTTPAPITests.token, ircHSToken]

    @Test(arguments: [
        ("GET", "/", 404, nil),
        ("POST", "/", 404, nil),
        ("GET", "/nothing/here", 404, nil),
        ("GET", "/_asched/v1/services/irc", 404, nil),
        ("GET", "/_asched/v1/services/irc/enqueue", 405, "POST"),
        ("DELETE", "/_asched/v1/services", 405, "GET"),
        ("PUT", "/_asched/v1/events", 405, "POST"),
        ("POST", "/healthz", 405, "GET"),
        ("DELETE", "/metrics", 405, "GET"),
        ("PUT", "/_asched/v1/relay/irc", 404, nil),
        ("GET", "/_asched/v1/relay/irc/users/@irc_a:example.org", 404, nil),
        ("GET", "/_asched/v1/relay/nope/_matrix/app/v1/users/@a:example.org", 404, nil),
        ("PUT", "/_asched/v1/relay/nope/_matrix/app/v1/transactions/1", 404, nil),
        ("GET", "/_asched/v1/relay/nope/_matrix/app/v1/transactions/1", 404, nil),
        ("GET", "/_asched/v1/relay/irc/_matrix/app/v1/transactions/1", 405, "PUT"),
        ("POST", "/_asched/v1/relay/irc/transactions/1", 405, "PUT"),
        ("PROPFIND", "/_asched/v1/relay/irc/_matrix/app/v1/users/@irc_a:example.org", 405, "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"),
    ] as [(String, String, Int, String?)])
    func unknownRoutesAndWrongMethodsAreUnrecognizedWhateverTheToken(method: String, uri: String, status: Int, allow: String?) async throws {
        let harness = try HTTPAPITests.Harness()
        try await harness.test { client in
            for token in Self.tokens {
                try await client.execute(uri: uri, method: try #require(HTTPRequest.Method(method)),
                                         headers: HTTPAPITests.headers(token), body: ByteBuffer(string: "{}")) { response in
                    #expect(response.status.code == status, "\(method) \(uri) with \(token ?? "no token")")
                    let answer = try HTTPAPITests.json(response)
                    #expect(answer["errcode"] as? String == "M_UNRECOGNIZED")
                    #expect(!((answer["error"] as? String) ?? "").isEmpty)
                    if let allow {
                        #expect(Set((response.headers[.allow] ?? "").components(separatedBy: ", ")) == Set(allow.components(separatedBy: ", ")))
                    }
                }
            }
        }
        #expect(try harness.records() == 0)
    }

    /// `/healthz` is open; the admin and ingest routes still want the ingest token, after routing.
    @Test func healthNeedsNoTokenAndTheAPIStillDoes() async throws {
        let harness = try HTTPAPITests.Harness()
        try await harness.test { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
            for (method, uri) in [(HTTPRequest.Method.get, "/metrics"), (.get, "/_asched/v1/services"),
                                  (.post, "/_asched/v1/services/irc/retry"), (.post, "/_asched/v1/events")] {
                try await client.execute(uri: uri, method: method, headers: HTTPAPITests.headers(nil)) { response in
                    let answer = try HTTPAPITests.json(response)
                    #expect(response.status == .unauthorized, "\(uri)")
                    #expect(answer["errcode"] as? String == "M_MISSING_TOKEN")
                }
                try await client.execute(uri: uri, method: method, headers: HTTPAPITests.headers(Self.ircHSToken)) { response in
                    let answer = try HTTPAPITests.json(response)
                    #expect(response.status == .unauthorized, "a relay token is no ingest token: \(uri)")
                    #expect(answer["errcode"] as? String == "M_UNKNOWN_TOKEN")
                }
            }
        }
    }

    /// Random methods, paths, queries, tokens and bodies against a real daemon whose service
    /// answers forwarded requests: every answer is a JSON object, an error one with an errcode,
    /// and none is a 5xx. A HEAD answer has no body by definition, so only its status counts;
    /// `/metrics` answers Prometheus text by design.
    @Test func everyAnswerIsMatrixJSON() async throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        try await ForwardTargetService.run { _, port in
            let daemon = try ForwardTests.Harness(url: "http://127.0.0.1:\(port)")
            try await daemon.test { client in
                var random = SplitMix64(seed: seed)
                for index in 0..<1_200 {
                    let request = Self.randomRequest(&random)
                    try await client.execute(uri: request.uri, method: request.method, headers: request.headers,
                                             body: request.body) { response in
                        let what = "request \(index) of seed \(seed): \(request.method) \(request.uri) → \(response.status.code)"
                        #expect(response.status.code < 500, "\(what)")
                        let isMetrics = request.uri.split(separator: "?").first == "/metrics" && response.status == .ok
                        guard request.method != .head, !isMetrics else { return }
                        let object = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                        #expect(object != nil, "\(what): not a JSON object: \(String(buffer: response.body))")
                        let errcode = object?["errcode"] as? String
                        #expect(response.status.code < 400 || errcode?.isEmpty == false, "\(what): no errcode")
                    }
                }
            }
        }
    }

    static let segments = ["_asched", "v1", "services", "events", "relay", "bridge", "nope", "enqueue", "retry",
                           "_matrix", "app", "transactions", "users", "rooms", "thirdparty", "ping", "metrics",
                           "healthz", "1", "%23a%3Ab", "@u:x", "", "..", "%zz", "unstable"]
    static let prefixes = ["", "/_asched/v1/relay/bridge/_matrix/app", "/_asched/v1/relay/bridge", "/_asched/v1/services/bridge",
                           "/_asched/v1", "/_asched/v1/relay/bridge/_matrix/app/v1"]
    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .delete, .patch, .options, HTTPRequest.Method("PROPFIND")!]
    static let queries = ["", "?a=b", "?access_token=\(ForwardTests.hsToken)", "?access_token=wrong&x=1"]
    static let authorizations: [String?] = [nil, "Bearer ingest-token", "Bearer \(ForwardTests.hsToken)", "Bearer wrong"]
    static let bodies: [String?] = [nil, "{}", "{not json", #"{"events": [{"type": "m.room.message"}]}"#, "[1]"]

    static func randomRequest(_ random: inout SplitMix64) -> (method: HTTPRequest.Method, uri: String, headers: HTTPFields, body: ByteBuffer?) {
        var path = prefixes[random.next(below: prefixes.count)]
        for _ in 0..<(1 + random.next(below: 4)) { path += "/" + segments[random.next(below: segments.count)] }
        var headers: HTTPFields = [.contentType: "application/json"]
        if let authorization = authorizations[random.next(below: authorizations.count)] { headers[.authorization] = authorization }
        let body = bodies[random.next(below: bodies.count)].map { ByteBuffer(string: $0) }
        return (methods[random.next(below: methods.count)], path + queries[random.next(below: queries.count)], headers, body)
    }
}

/// A small seeded generator, so a failing fuzz run can be replayed from its seed.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D4_9BB1_3311_32EB
        return Int((mixed ^ (mixed >> 31)) % UInt64(bound))
    }
}
