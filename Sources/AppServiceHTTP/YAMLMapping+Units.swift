import SegmentLog

/// The daemon configuration's value syntax. It is strict: no spaces inside a value, no signs,
/// no fractions, and units spelt exactly, so a value means one thing only.
///
/// - size: bytes as a whole number (`1048576`), or a whole number with `KiB`, `MiB` or `GiB`
///   (`64MiB`), all powers of 1024; `MB` and friends are refused because they are ambiguous.
/// - duration: a whole number from 1 with `ms`, `s` or `m` (`250ms`, `2s`, `8m`); a bare number
///   is refused because its unit would be a guess.
/// - fsync: `always`, `never` or `interval <duration>` (`interval 5ms`).
/// - listen: `host:port`, with IPv6 hosts in brackets (`"[::1]:8448"`, quoted, as YAML reads a
///   bare `[` as a list); port 0 picks a free port.
extension YAMLMapping {
    /// Durations have at most this many digits, which keeps any of them far from overflowing.
    static let durationDigitsMax = 9

    /// A size in bytes within `range`, or nil when absent.
    func size(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = try string(key) else { return nil }
        guard let bytes = Self.bytes(text) else {
            throw invalid(key, "\"\(text)\" is not a size; write bytes or a whole number with KiB, MiB or GiB, e.g. 64MiB")
        }
        guard range.contains(bytes) else {
            throw invalid(key, "\(text) is out of range; use \(range.lowerBound) to \(range.upperBound) bytes")
        }
        return bytes
    }

    /// A positive duration, or nil when absent.
    func duration(_ key: String) throws(ConfigurationError) -> Duration? {
        guard let text = try string(key) else { return nil }
        guard let duration = Self.duration(text) else {
            throw invalid(key, "\"\(text)\" is not a duration; write a whole number from 1 with ms, s or m, e.g. 2s")
        }
        return duration
    }

    /// A whole number of at least 1, or nil when absent.
    func positiveCount(_ key: String) throws(ConfigurationError) -> Int? {
        guard let text = try string(key) else { return nil }
        guard let count = Self.wholeNumber(Substring(text), digitsMax: 9), count > 0 else {
            throw invalid(key, "\"\(text)\" is not a whole number from 1")
        }
        return count
    }

    /// A sync policy, or nil when absent.
    func syncPolicy(_ key: String) throws(ConfigurationError) -> SyncPolicy? {
        guard let text = try string(key) else { return nil }
        switch text {
        case "always": return .always
        case "never": return .never
        default:
            guard text.hasPrefix("interval "), let interval = Self.duration(String(text.dropFirst("interval ".count))) else {
                throw invalid(key, "\"\(text)\" is not a sync policy; write always, never or interval <duration>, e.g. interval 5ms")
            }
            return .interval(interval)
        }
    }

    /// A listening address, or nil when absent.
    func listenAddress(_ key: String) throws(ConfigurationError) -> (host: String, port: Int)? {
        guard let text = try string(key) else { return nil }
        guard let address = Self.listenAddress(text) else {
            throw invalid(key, "\"\(text)\" is not host:port; e.g. 127.0.0.1:8448 or [::1]:8448")
        }
        return address
    }

    static func bytes(_ text: String) -> Int? {
        let units = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)]
        let unit = units.first { text.hasSuffix($0.0) }
        guard let count = wholeNumber(text.dropLast(unit?.0.count ?? 0), digitsMax: 18) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: unit?.1 ?? 1)
        return overflow ? nil : bytes
    }

    static func duration(_ text: String) -> Duration? {
        // `ms` comes first: "5ms" also ends in "s".
        let units: [(String, @Sendable (Int) -> Duration)] = [
            ("ms", { .milliseconds($0) }), ("s", { .seconds($0) }), ("m", { .seconds($0 * 60) }),
        ]
        guard let (suffix, make) = units.first(where: { text.hasSuffix($0.0) }),
              let count = wholeNumber(text.dropLast(suffix.count), digitsMax: durationDigitsMax), count > 0 else {
            return nil
        }
        return make(count)
    }

    static func listenAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"),
              let port = wholeNumber(text[text.index(after: colon)...], digitsMax: 5), port <= 65535 else {
            return nil
        }
        var host = text[..<colon]
        let bracketed = host.hasPrefix("[") && host.hasSuffix("]")
        if bracketed { host = host.dropFirst().dropLast() }
        // An unbracketed colon would make the port ambiguous, so IPv6 hosts need brackets.
        guard !host.isEmpty, host.contains(":") == bracketed, !host.contains(where: { $0.isWhitespace }) else {
            return nil
        }
        return (String(host), port)
    }

    /// `bytes` as a size is written: with the largest unit that divides it, else in bytes.
    static func sizeText(_ bytes: Int) -> String {
        let units = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        guard bytes > 0, let (unit, factor) = units.first(where: { bytes % $0.1 == 0 }) else { return "\(bytes)" }
        return "\(bytes / factor)\(unit)"
    }

    /// `duration` as a duration is written: whole minutes, seconds or milliseconds.
    static func durationText(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds % 60_000 == 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }

    /// `policy` as `fsync` is written.
    static func text(_ policy: SyncPolicy) -> String {
        switch policy {
        case .always: "always"
        case .never: "never"
        case .interval(let interval): "interval \(durationText(interval))"
        }
    }

    /// Whether `host` is `localhost`, `::1` or in 127.0.0.0/8.
    static func isLoopback(host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127"
            && octets.allSatisfy { wholeNumber($0, digitsMax: 3).map { $0 <= 255 } ?? false }
    }

    /// ASCII digits only, at most `digitsMax` of them.
    static func wholeNumber(_ text: Substring, digitsMax: Int) -> Int? {
        guard (1...digitsMax).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }
}
