import AppServiceHTTP
import Foundation
import Testing

struct NamespaceRouterTests {
    let irc: Registration
    let slack: Registration
    let router: NamespaceRouter

    init() throws {
        irc = try Registration.load(path: Fixtures.path("registration-irc.yaml"))
        slack = try Registration.load(path: Fixtures.path("registration-slack.yaml"))
        router = NamespaceRouter(registrations: [irc, slack])
    }

    @Test func routesBySenderInAnExclusiveNamespace() {
        let event: [String: Any] = ["type": "m.room.message", "sender": "@irc_alice:example.org", "room_id": "!r:example.org"]
        #expect(router.serviceIDs(for: event) == ["irc"])
    }

    @Test func routesBySenderInANonExclusiveNamespace() {
        let event: [String: Any] = ["type": "m.room.message", "sender": "@ircwatch_bob:example.org"]
        #expect(router.serviceIDs(for: event) == ["irc"])
    }

    @Test func routesByRoomID() {
        let event: [String: Any] = ["type": "m.room.message", "sender": "@carol:other.org", "room_id": "!bridgedX1:example.org"]
        #expect(router.serviceIDs(for: event) == ["slack"])
    }

    @Test func routesMembershipByStateKey() {
        let event: [String: Any] = [
            "type": "m.room.member", "sender": "@carol:other.org", "room_id": "!r:example.org",
            "state_key": "@slack_T1_U2:example.org", "content": ["membership": "invite"],
        ]
        #expect(router.serviceIDs(for: event) == ["slack"])
    }

    @Test func stateKeyOfOtherEventsDoesNotRoute() {
        let event: [String: Any] = ["type": "m.room.topic", "sender": "@carol:other.org", "state_key": "@slack_T1_U2:example.org"]
        #expect(router.serviceIDs(for: event).isEmpty)
    }

    @Test func aliasesDoNotRoute() {
        let event: [String: Any] = [
            "type": "m.room.canonical_alias", "sender": "@carol:other.org", "state_key": "",
            "content": ["alias": "#irc_chan:example.org"],
        ]
        #expect(router.serviceIDs(for: event).isEmpty)
    }

    @Test func noMatchRoutesNowhere() {
        let event: [String: Any] = ["type": "m.room.message", "sender": "@dave:example.org", "room_id": "!other:example.org"]
        #expect(router.serviceIDs(for: event).isEmpty)
        #expect(router.serviceIDs(for: [:]).isEmpty)
        #expect(router.serviceIDs(for: ["sender": 42, "room_id": ["!bridgedX:example.org"]]).isEmpty)
    }

    @Test func severalServicesComeInRegistrationOrder() {
        let event: [String: Any] = ["type": "m.room.message", "sender": "@irc_alice:example.org", "room_id": "!bridgedX:example.org"]
        #expect(router.serviceIDs(for: event) == ["irc", "slack"])
        #expect(NamespaceRouter(registrations: [slack, irc]).serviceIDs(for: event) == ["slack", "irc"])
    }

    @Test func routesRawJSON() {
        let json = Data(#"{"type":"m.room.message","sender":"@slack_A_B:example.org","content":{}}"#.utf8)
        #expect(router.serviceIDs(forEventJSON: json) == ["slack"])
        #expect(router.serviceIDs(forEventJSON: Data("[1, 2]".utf8)) == nil)
        #expect(router.serviceIDs(forEventJSON: Data("{".utf8)) == nil)
    }
}
