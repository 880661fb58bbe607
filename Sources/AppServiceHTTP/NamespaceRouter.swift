import Foundation

/// Decides which application services an event goes to, from their registrations' namespaces,
/// as Synapse's `ApplicationService.is_interested_in_event` does for the fields an event carries.
///
/// A service receives an event when any of these holds:
/// - the event's `sender` matches one of its user namespaces;
/// - the event's `room_id` matches one of its room namespaces;
/// - the event is an `m.room.member` event whose `state_key` (the member) matches one of its
///   user namespaces.
///
/// Exclusive and non-exclusive namespaces route alike: exclusivity governs who may claim ids,
/// which is the homeserver's concern, not who is told about events. Alias namespaces are not
/// used, since matching them needs the room's aliases, which only the homeserver can look up;
/// nor is the service's own `sender_localpart` user, since the server name is not known here.
///
/// ```swift
/// let router = NamespaceRouter(registrations: configuration.registrations)
/// let services = router.serviceIDs(for: ["sender": "@irc_alice:example.org", "type": "m.room.message"])
/// ```
package struct NamespaceRouter: Sendable {
    /// The registrations consulted, in the order given.
    package let registrations: [Registration]
    /// Answers by (sender, room, member): senders and rooms repeat, and a regex match per
    /// namespace per event is the router's whole cost.
    private let answers = AnswerCache()

    /// A router over `registrations`, whose ids must be distinct.
    package init(registrations: [Registration]) {
        precondition(Set(registrations.map(\.id)).count == registrations.count,
                     "registrations given to a NamespaceRouter must have distinct ids")
        self.registrations = registrations
    }

    /// The ids of the services `event` goes to, in registration order; empty when none.
    /// Fields that are absent or not strings match nothing.
    package func serviceIDs(for event: [String: Any]) -> [String] {
        serviceIDs(sender: event["sender"] as? String, roomID: event["room_id"] as? String,
                   member: event["type"] as? String == "m.room.member" ? event["state_key"] as? String : nil)
    }

    /// Like ``serviceIDs(for:)`` for `event`, an object in `document`: only its four top-level
    /// string members are read.
    package func serviceIDs(forEvent event: JSONValue, in document: JSONDocument) -> [String] {
        let field = { (name: String) in document.member(name, of: event).flatMap(document.string) }
        return serviceIDs(sender: field("sender"), roomID: field("room_id"),
                          member: field("type") == "m.room.member" ? field("state_key") : nil)
    }

    private func serviceIDs(sender: String?, roomID: String?, member: String?) -> [String] {
        let key = [sender ?? "", roomID ?? "", member ?? ""].joined(separator: "\u{0}")
        if let known = answers.lookup(key) { return known }
        let answer = registrations.filter { registration in
            let users = registration.userNamespaces
            let rooms = registration.roomNamespaces
            return sender.map { id in users.contains { $0.matches(id) } } == true
                || roomID.map { id in rooms.contains { $0.matches(id) } } == true
                || member.map { id in users.contains { $0.matches(id) } } == true
        }.map(\.id)
        answers.store(answer, for: key)
        return answer
    }

    /// Like ``serviceIDs(for:)`` for an event given as JSON; nil when `json` is not a JSON object.
    package func serviceIDs(forEventJSON json: Data) -> [String]? {
        guard let document = try? JSONScanner.scan(Array(json)), document.root.kind == .object else { return nil }
        return serviceIDs(forEvent: document.root, in: document)
    }
}
