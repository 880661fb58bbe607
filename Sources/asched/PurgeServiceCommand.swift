import AppServiceScheduler
import ArgumentParser
import Foundation
import SegmentLog

/// `asched purge-service`: retire a bridge, dropping its queued and pending items from the log.
struct PurgeServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge-service",
        abstract: "Retire a service: drop its queued and pending items, then compact the log.",
        discussion: """
            A service removed from the configuration keeps its queue in the log: nothing sends it
            and compaction keeps it. When the bridge is gone for good, purge it:
              1. remove its registration from the configuration;
              2. stop the daemon: this command takes the log's writer lock and refuses to run
                 beside it;
              3. asched purge-service DIR ID --dry-run, to see what would be dropped;
              4. asched purge-service DIR ID, then start the daemon again.
            It appends a service-purged record (its queued and pending items, in-flight send,
            DOWN status and backoff are dropped), then compacts, so the records that held them
            go and their space comes back. The service's next transaction id is kept: if it is
            registered again, its ids continue and none is reused. Dropped items are never sent.
            --dry-run only reads the log and changes nothing (it may run beside the daemon).

            Examples:
              asched purge-service /var/lib/asched old-bridge --dry-run
              asched purge-service /var/lib/asched old-bridge
            """)

    @OptionGroup var log: LogDirectoryOptions
    @Argument(help: "The id of the service to purge (its registration's id).") var service: String
    @Flag(help: "Report what would be dropped; write nothing.") var dryRun = false

    /// The service has no state in the log (a typo, or a log of another deployment).
    struct UnknownService: Error, CustomStringConvertible {
        let service: String
        let directory: String
        let known: [String]

        var description: String {
            "the log in \(directory) has no service \"\(service)\"; "
                + (known.isEmpty ? "it holds no service at all" : "its services are: \(known.joined(separator: ", "))")
        }
    }

    func run() async throws {
        if dryRun {
            // Read-only, as `state` is: the writer lock, a torn tail's cut or a new segment
            // would each change the directory that a dry run promises to leave alone.
            let state = try StateFold.replay(try log.reader(), through: nil).state
            print(describe(try purge(in: state), dryRun: true))
            return
        }
        try await OfflineScheduler.run(on: log.directory, purge(with:))
    }

    private func purge(with scheduler: AppServiceScheduler) async throws {
        _ = try purge(in: await scheduler.snapshot)
        let bytesBefore = try segmentBytes()
        guard let dropped = try await scheduler.purge(service) else {
            preconditionFailure("the snapshot under the writer lock named \(service), the purge found no state")
        }
        print(describe(dropped, dryRun: false))
        if let report = try await scheduler.compact() {
            print(report)
        } else {
            print("nothing to compact: no sealed segment lies before the checkpoint")
        }
        let bytesAfter = try segmentBytes()
        print("the log's segments went from \(bytesBefore) to \(bytesAfter) bytes: "
              + "\(max(0, bytesBefore - bytesAfter)) bytes reclaimed")
    }

    /// What purging the service in `state` drops, or ``UnknownService`` listing the services there are.
    private func purge(in state: SchedulerState) throws -> ServicePurge {
        guard let current = state.services[service] else {
            throw UnknownService(service: service, directory: log.directory, known: state.services.keys.sorted())
        }
        return ServicePurge(of: current)
    }

    private func describe(_ purge: ServicePurge, dryRun: Bool) -> String {
        let queued = purge.queuedItems
        let ids = purge.pendingTransactions.isEmpty ? ""
            : " (ids \(purge.pendingTransactions.map(String.init).joined(separator: ", ")))"
        return """
            \(dryRun ? "would purge" : "purged") service \(service) in \(log.directory):
              queued items dropped: \(queued[.events] ?? 0) events, \(queued[.ephemeral] ?? 0) ephemeral, \
            \(queued[.toDevice] ?? 0) to-device, \(queued[.deviceData] ?? 0) device data
              pending transactions dropped: \(purge.pendingTransactions.count)\(ids), holding \(purge.pendingItems) items
              next transaction id kept: \(purge.nextTransactionID) (if \(service) comes back, its ids continue from there)
            """ + (dryRun ? "\ndry run: nothing was written" : "")
    }

    /// The bytes of the log's segment files.
    private func segmentBytes() throws -> Int {
        try LogReader(directory: log.directory).segmentFileNames.reduce(0) { total, name in
            let attributes = try FileManager.default.attributesOfItem(atPath: log.directory + "/" + name)
            return total + ((attributes[.size] as? Int) ?? 0)
        }
    }
}
