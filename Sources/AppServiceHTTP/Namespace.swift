import Foundation

/// One entry of a registration's `namespaces`: a regex over user ids, room aliases or room ids.
///
/// Matching follows Synapse, which tests a namespace with Python's `re.match`: the regex is
/// anchored at the start of the id but need not reach its end, so `@irc_` matches
/// `@irc_alice:example.org`. A registration that means whole ids ends its regex with `$`.
/// Regexes are compiled once, by ICU (`NSRegularExpression`), whose syntax agrees with Python's
/// for what registrations use: classes, escapes, groups, alternation and anchors.
///
/// `exclusive` is kept for what it means to a homeserver (no one else may claim ids in the
/// namespace); it does not change routing: ``NamespaceRouter`` delivers on a match either way.
package struct Namespace: Sendable, Equatable {
    /// The regex as written in the registration.
    package let regex: String
    /// Whether the service claims the namespace for itself.
    package let exclusive: Bool
    private let expression: NSRegularExpression

    /// Compiles `regex`; throws the regex engine's error when it does not compile.
    init(regex: String, exclusive: Bool) throws {
        self.regex = regex
        self.exclusive = exclusive
        self.expression = try NSRegularExpression(pattern: regex)
    }

    /// Whether the regex matches at the start of `id` (Synapse's `re.match`).
    package func matches(_ id: String) -> Bool {
        let range = NSRange(id.startIndex..., in: id)
        return expression.firstMatch(in: id, options: .anchored, range: range) != nil
    }

    /// Namespaces are equal when written alike; the compiled form follows from the text.
    package static func == (lhs: Namespace, rhs: Namespace) -> Bool {
        lhs.regex == rhs.regex && lhs.exclusive == rhs.exclusive
    }
}
