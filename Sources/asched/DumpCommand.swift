import AppServiceScheduler
import AppServiceSchedulerPostgres
import ArgumentParser
import Foundation
import SegmentLog

/// `asched dump`: one line per record, streamed.
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the log's records, one per line.",
        discussion: """
            Each line: position, segment:offset, type, service, transaction, stored/raw bytes and a
            summary. Streams from disk, so `| head` and `| grep` work on any size of log.

            Examples:
              asched dump /var/lib/asched
              asched dump /var/lib/asched --service irc --type send-failed
              asched dump /var/lib/asched --from 1000 --to 2000 --json | jq .type
              asched dump /var/lib/asched --txn 42 --payload
              asched dump --database-url postgres://asched@db:5432/asched --service irc
            Types: \(DumpCommand.typeNames.joined(separator: ", ")).
            """)

    static let typeNames = RecordType.allCases.map(\.name)

    @OptionGroup var source: RecordSourceOptions
    @Option(help: "First position to show.") var from: UInt64?
    @Option(help: "Last position to show.") var to: UInt64?
    @Option(help: "Only records of this service.") var service: String?
    @Option(help: "Only records of these types (repeat or comma-separate).") var type: [String] = []
    @Option(help: "Only records about this transaction id.") var txn: UInt64?
    @Flag(help: "One JSON object per line.") var json = false
    @Flag(help: "Include the items (events) of enqueued and relayed records.") var payload = false

    func validate() throws {
        let unknown = types.subtracting(Self.typeNames)
        guard unknown.isEmpty else {
            throw ValidationError("unknown --type \(unknown.sorted().joined(separator: ", ")); types are \(Self.typeNames.joined(separator: ", "))")
        }
        if let from, let to, from > to { throw ValidationError("--from \(from) is after --to \(to)") }
    }

    private var types: Set<String> {
        Set(type.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } })
    }

    func run() throws {
        signal(SIGPIPE, SIG_DFL)
        let first = LogPosition(rawValue: from ?? 0)
        let last = to.map { LogPosition(rawValue: $0) }
        var progress = Progress("dumped")
        var count = 0
        var bytes = 0
        let types = self.types
        let show = { (record: LogRecord) in
            count += 1
            bytes += record.location.storedBytes
            progress.update(records: count, bytes: bytes)
            printIfSelected(DecodedRecord(record), types: types)
        }
        switch try source.source() {
        case .directory(let directory):
            var cursor = try LogDirectoryOptions.reader(directory).records(from: first, through: last)
            while let record = try cursor.next() { show(record) }
            progress.finish()
            if let tail = cursor.tornTail { FileHandle.standardError.write(Data("warning: \(tail)\n".utf8)) }
        case .database(let url):
            let reader = try PostgresRecordReader(url: url)
            defer { reader.close() }
            try reader.records(from: first, through: last, show)
            progress.finish()
        }
    }

    private func printIfSelected(_ decoded: DecodedRecord, types: Set<String>) {
        if let service, decoded.service != service { return }
        if !types.isEmpty && !types.contains(decoded.typeName) { return }
        if let txn, decoded.transactionID != txn { return }
        print(json ? jsonLine(decoded) : textLine(decoded))
    }

    private func textLine(_ decoded: DecodedRecord) -> String {
        let record = decoded.record
        var fields = ["\(record.position)", "\(record.location.segmentFileName):\(record.location.offset)",
                      decoded.typeName, decoded.service ?? "-", decoded.transactionID.map { "txn=\($0)" } ?? "-",
                      "\(record.location.storedBytes)/\(record.payload.count)B", decoded.summary]
        if payload, let items = decoded.items {
            fields.append(ItemJSON.text(items))
        }
        return fields.joined(separator: "  ")
    }

    private func jsonLine(_ decoded: DecodedRecord) -> String {
        let record = decoded.record
        var object: [String: Any] = [
            "position": record.position.rawValue,
            "segment": record.location.segmentFileName,
            "offset": record.location.offset,
            "type": decoded.typeName,
            "stored_bytes": record.location.storedBytes,
            "raw_bytes": record.payload.count,
            "compressed": record.location.isCompressed,
            "summary": decoded.summary,
        ]
        if let service = decoded.service { object["service"] = service }
        if let id = decoded.transactionID { object["txn"] = id }
        if payload, let items = decoded.items {
            object["items"] = ItemJSON.object(items)
        }
        return JSONText.line(object)
    }
}
