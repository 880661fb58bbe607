import AppServiceHTTP
import AppServiceScheduler
import Foundation
import Glibc
import Hummingbird
import Logging
import Synchronization

/// The daemon of the outage scenario, in a process of its own (`asched-bench --outage-daemon
/// DIR PORT`) so that its resident memory is the daemon's alone: `Daemon.buildApplication` as
/// `asched serve` runs it (fsync always, 64 MiB segments, compaction every 4 sealed segments),
/// services `down` and `up` on the loopback service at PORT. Tells its parent, one line each on
/// standard output, its port (`port N`) and every compaction (`compacted WRITTEN BEFORE AFTER
/// REPLACED`, in bytes and segments); stops on SIGTERM.
enum OutageDaemon {
    static func run(directory: String, servicePort: Int) async throws {
        var configuration = DaemonConfiguration()
        configuration.dataDirectory = directory
        configuration.listenPort = 0
        configuration.ingestToken = OutageRun.token
        configuration.registrations = try ["down", "up"].map { id in
            try Registration(yaml: """
                id: \(id)
                url: http://127.0.0.1:\(servicePort)/\(id)
                as_token: a_\(id)
                hs_token: h_\(id)
                sender_localpart: \(id)bot
                namespaces: {users: [{regex: "@\(id)_.*", exclusive: true}]}
                """, file: "\(id).yaml")
        }
        let watch = CompactionWatch(directory: directory)
        var logger = Logger(label: "asched") { _ in watch }
        logger.logLevel = .info
        let daemon = try await Daemon.buildApplication(configuration: configuration, logger: logger) { port in
            say("port \(port)")
        }
        try await daemon.runService()
    }

    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// Measures what each compaction writes from the daemon's log messages, as the daemon does not
/// hand its scheduler out: at "compaction started" it lists the segments (name, inode); at
/// "compacted" every listed name now on another inode is a compacted segment renamed over a
/// replaced one (SegmentLog+Compaction.swift, step 5), and its size is what was written.
/// "compaction started" is emitted before the checkpoint is even appended, and writing begins
/// only after the floor is synced and every candidate scanned, so the first listing comes first.
struct CompactionWatch: LogHandler {
    let directory: String
    /// Shared by the copies the logger makes of its handler.
    private let listing = Listing()
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info

    init(directory: String) {
        self.directory = directory
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        switch event.message.description {
        case "compaction started":
            let segments = self.segments()
            listing.segments.withLock { $0 = segments }
            OutageDaemon.say("compaction-started \(Date().timeIntervalSince1970)")
        case "compacted":
            let before = listing.segments.withLock { $0 }
            let after = segments()
            let written = after.reduce(0) { sum, entry in
                guard let old = before[entry.key], old.inode != entry.value.inode else { return sum }
                return sum + entry.value.bytes
            }
            let fields = event.metadata ?? [:]
            OutageDaemon.say("compacted \(written) \(fields["bytes_before"] ?? "0") \(fields["bytes_after"] ?? "0") \(fields["segments"] ?? "0") "
                             + "\(Date().timeIntervalSince1970)")
        case _ where event.level >= .error:
            FileHandle.standardError.write(Data("outage daemon: \(event.message) \(event.metadata ?? [:])\n".utf8))
        default:
            break
        }
    }

    final class Listing: Sendable {
        let segments = Mutex<[String: (inode: UInt64, bytes: Int)]>([:])
    }

    private func segments() -> [String: (inode: UInt64, bytes: Int)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var result: [String: (inode: UInt64, bytes: Int)] = [:]
        for name in names where name.hasSuffix(".seg") {
            var info = stat()
            guard stat(directory + "/" + name, &info) == 0 else { continue }
            result[name] = (UInt64(info.st_ino), Int(info.st_size))
        }
        return result
    }
}
