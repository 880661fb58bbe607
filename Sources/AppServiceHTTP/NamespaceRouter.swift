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
    /// Where the registrations come from: a fixed list, or the daemon's reloadable ones. Each
    /// generation carries its answers by (sender, room, member): senders and rooms repeat, and
    /// a regex match per namespace per event is the router's whole cost.
    private enum Source: Sendable {
        case fixed(Registrations.Generation)
        case live(Registrations)
    }

    private let source: Source

    /// The registrations consulted, in the order given.
    package var registrations: [Registration] { generation.list }

    /// A router over `registrations`, whose ids must be distinct.
    package init(registrations: [Registration]) {
        precondition(Set(registrations.map(\.id)).count == registrations.count,
                     "registrations given to a NamespaceRouter must have distinct ids")
        source = .fixed(Registrations.Generation(registrations))
    }

    /// A router over the registrations `registrations` holds at each call, so a reload's
    /// namespaces route the next request.
    package init(live registrations: Registrations) {
        source = .live(registrations)
    }

    private var generation: Registrations.Generation {
        switch source {
        case .fixed(let generation): generation
        case .live(let registrations): registrations.generation
        }
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
        let generation = self.generation
        if let known = generation.answers.lookup(key) { return known }
        let answer = generation.list.filter { registration in
            let users = registration.userNamespaces
            let rooms = registration.roomNamespaces
            return sender.map { id in users.contains { $0.matches(id) } } == true
                || roomID.map { id in rooms.contains { $0.matches(id) } } == true
                || member.map { id in users.contains { $0.matches(id) } } == true
        }.map(\.id)
        generation.answers.store(answer, for: key)
        return answer
    }

    /// Like ``serviceIDs(for:)`` for an event given as JSON; nil when `json` is not a JSON object.
    package func serviceIDs(forEventJSON json: Data) -> [String]? {
        guard let document = try? JSONScanner.scan(Array(json)), document.root.kind == .object else { return nil }
        return serviceIDs(forEvent: document.root, in: document)
    }
}
