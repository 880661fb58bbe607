// Three patterns for code built on SegmentLog: state folded in log order, reading beside a live
// writer, and telling damage from a busy directory at open. Run: `swift run SegmentLogPatterns`.
import Foundation
import SegmentLog

/// State derived from what it writes: positions are assigned synchronously by `beginAppend`,
/// so the fold follows log order even when several deposits are in flight.
actor Ledger {
    let log: SegmentLog
    var balance = 0
    init(log: SegmentLog) { self.log = log }

    func deposit(_ amount: Int) async throws -> LogPosition {
        let pending = try log.beginAppend(contentsOf: [LogEntry(type: 1, payload: Array("\(amount)".utf8))])
        balance += amount                 // no suspension since beginAppend: state follows log order
        try await pending.durable()       // durable per the sync policy: only now tell anyone
        return pending.positions.upperBound
    }
}

/// Opens a log, explaining the two failures an operator can act on.
func openLog(at path: String) throws -> SegmentLog? {
    do {
        return try SegmentLog.open(directory: path)
    } catch SegmentLogError.corruptFrame(let file, let offset, let reason) {
        print("damaged record in \(file) at byte \(offset): \(reason)")
        if let plan = try? SegmentLog.repair(directory: path, dryRun: true) {   // nil when repair refuses
            print("repair(dryRun: false) would do this: \(plan)")
        }
        return nil
    } catch SegmentLogError.directoryLocked(let lockFile, let holder) {
        print("\(lockFile) is held by \(holder); use LogReader to read meanwhile")
        return nil
    }
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("segmentlog-patterns-\(getpid())").path
let log = try SegmentLog.open(directory: directory)
let ledger = Ledger(log: log)
for amount in [100, -30, 45] { _ = try await ledger.deposit(amount) }
print("balance \(await ledger.balance) after \(log.lastPosition) records")

// A second open of the same directory is refused while the writer holds LOCK...
let second = try openLog(at: directory)
precondition(second == nil)

// ...but a LogReader takes no lock and may run beside it (in this or another process).
let reader = try LogReader(directory: directory)
var cursor = try reader.records(from: .start, through: nil)
while let record = try cursor.next() {
    print(record.position, record.type, record.location.segmentFileName, record.location.offset,
          String(decoding: record.payload, as: UTF8.self))
}
if let tail = cursor.tornTail { print("ends in invalid bytes: \(tail)") }   // reported, never cut by a reader
try await log.close()
try FileManager.default.removeItem(atPath: directory)
