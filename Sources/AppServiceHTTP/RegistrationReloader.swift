import AppServiceScheduler
import Foundation
import Logging

/// Puts a configuration file's edited `registrations` in force without a restart (what
/// `asched serve` does on SIGHUP): a new service starts receiving, a changed `url` or `hs_token`
/// applies to the next attempt and request, and a removed service is no longer sent to, its
/// relay routes answering 404 while its state stays in the log.
///
/// Only the registrations are reloaded. Another key that changed is logged as needing a
/// restart and keeps its value. A file that does not load (bad YAML, a bad registration, two
/// sources of the token…) is refused as a whole, with the reason logged, and the registrations
/// in force stay.
///
/// ```swift
/// let reloader = RegistrationReloader()
/// let app = try await Daemon.buildApplication(configuration: configuration, logger: logger, reloader: reloader)
/// // on SIGHUP:
/// _ = try? await reloader.reload()
/// ```
package actor RegistrationReloader {
    /// What a reload changed, by service id.
    package struct Report: Sendable, Equatable {
        package var added: [String] = []
        package var removed: [String] = []
        /// Services whose registration file says something else now (url, tokens, namespaces, flags).
        package var changed: [String] = []
        /// Keys other than `registrations` that differ in the file and wait for a restart.
        package var needingRestart: [String] = []

        /// A report of these changes; by default none.
        package init(added: [String] = [], removed: [String] = [], changed: [String] = [], needingRestart: [String] = []) {
            self.added = added
            self.removed = removed
            self.changed = changed
            self.needingRestart = needingRestart
        }
    }

    /// What a reload works on, set once the daemon is built.
    private struct Target {
        var configuration: DaemonConfiguration
        let registrations: Registrations
        let scheduler: AppServiceScheduler
        /// The services this instance delivers, when the instances on a database spread them; nil: all.
        let delivered: Set<String>?
        let logger: Logger
    }

    private var target: Target?
    /// The latest reload: the next one starts after it, so two SIGHUPs in a row never interleave
    /// across the scheduler's reconfiguration.
    private var latest: Task<Report, any Error>?
    private let environment: [String: String]

    /// A reloader that reads the token's environment variable from `environment`, as the
    /// configuration was read at start. It does nothing until the daemon it is given to is built.
    package init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Makes the daemon just built the one reloads work on: `asched serve` builds a new one each
    /// time it takes the writer lease again after stepping down.
    func attach(configuration: DaemonConfiguration, registrations: Registrations, scheduler: AppServiceScheduler,
                delivered: Set<String>? = nil, logger: Logger) {
        target = Target(configuration: configuration, registrations: registrations, scheduler: scheduler, delivered: delivered,
                        logger: logger)
    }

    /// Reads the configuration file again and puts its registrations in force. Throws, having
    /// logged the reason and changed nothing, when the file does not load or the daemon has
    /// stopped; a daemon started without a file has nothing to reload.
    @discardableResult
    package func reload() async throws -> Report {
        let previous = latest
        let next = Task {
            _ = try? await previous?.value
            return try await self.reloadAfterThePrevious()
        }
        latest = next
        return try await next.value
    }

    private func reloadAfterThePrevious() async throws -> Report {
        guard let target else { throw ReloadError.notRunning }
        let logger = target.logger
        guard let file = target.configuration.file else {
            logger.warning("reload: the daemon was started without --config; nothing to reload")
            throw ReloadError.noConfigurationFile
        }
        let reloaded: DaemonConfiguration
        do {
            reloaded = try DaemonConfiguration.load(path: file, environment: environment)
        } catch {
            logger.error("reload refused; the registrations in force stay", metadata: ["reason": "\(error)"])
            throw error
        }
        var report = Self.difference(from: target.registrations.all, to: reloaded.registrations)
        report.needingRestart = target.configuration.keysNeedingRestart(toApply: reloaded)
        try await apply(reloaded.registrations, report: report, to: target)
        self.target?.configuration.registrations = reloaded.registrations
        if !report.needingRestart.isEmpty {
            logger.warning("reload: changed keys need a restart; their old values stay in force",
                           metadata: ["keys": "\(report.needingRestart.joined(separator: ", "))"])
        }
        logger.notice("reloaded registrations", metadata: [
            "services": "\(reloaded.registrations.map(\.id))", "added": "\(report.added)",
            "removed": "\(report.removed)", "changed": "\(report.changed)",
        ])
        return report
    }

    /// A removed registration leaves the shared table only once the scheduler stopped sending
    /// to it, and a new one is in it before the scheduler starts: no attempt ever finds its
    /// service's registration missing.
    private func apply(_ registrations: [Registration], report: Report, to target: Target) async throws {
        let current = target.registrations.all
        let leaving = current.filter { report.removed.contains($0.id) }
        target.registrations.replace(with: registrations + leaving)
        do {
            // A service another instance delivers is routed and forwarded, not delivered here; one
            // added goes to whichever instance it is assigned to, which takes it.
            try await target.scheduler.reconfigure(services: registrations.filter { target.delivered?.contains($0.id) ?? true }
                .map(\.descriptor))
        } catch {
            target.registrations.replace(with: current)
            target.logger.error("reload refused; the registrations in force stay", metadata: ["reason": "\(error)"])
            throw error
        }
        target.registrations.replace(with: registrations)
    }

    /// The ids added, removed and changed between `old` and `new`, each sorted.
    static func difference(from old: [Registration], to new: [Registration]) -> Report {
        let before = Dictionary(uniqueKeysWithValues: old.map { ($0.id, $0) })
        let after = Dictionary(uniqueKeysWithValues: new.map { ($0.id, $0) })
        var report = Report()
        report.added = after.keys.filter { before[$0] == nil }.sorted()
        report.removed = before.keys.filter { after[$0] == nil }.sorted()
        report.changed = after.compactMap { id, registration in
            before[id].flatMap { $0.sameSettings(as: registration) ? nil : id }
        }.sorted()
        return report
    }

    /// Why a reload could not even be tried.
    package enum ReloadError: Error, CustomStringConvertible {
        /// The reloader was never given to a built daemon.
        case notRunning
        /// The daemon runs on the defaults, without a file to read again.
        case noConfigurationFile

        package var description: String {
            switch self {
            case .notRunning: "the daemon is not running"
            case .noConfigurationFile: "the daemon was started without --config; there is no file to reload"
            }
        }
    }
}
