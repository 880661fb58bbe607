// SegmentLog as a plain log, through its public API only: append, close, reopen, read back.
import Foundation
import SegmentLog

func check(_ condition: Bool, _ message: String) {
    guard condition else {
        print("LogConsumer: FAILED: \(message)")
        exit(1)
    }
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("log-consumer-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: directory) }
var configuration = SegmentLog.Configuration()
configuration.segmentSizeBytes = 4096  // several segments, so reading crosses the chain

let payloads = (1...500).map { Array("record \($0) \(String(repeating: "x", count: $0 % 300))".utf8) }
let log = try SegmentLog.open(directory: directory, configuration: configuration)
var positions: [LogPosition] = []
for payload in payloads { positions.append(try await log.append(type: 7, payload: payload)) }
try await log.close()

let reopened = try SegmentLog.open(directory: directory, configuration: configuration)
var cursor = try reopened.records(from: .start)
var read: [LogRecord] = []
while let record = try cursor.next() { read.append(record) }
check(read.map(\.payload) == payloads, "read back \(read.count) records, expected the \(payloads.count) appended")
check(read.map(\.position) == positions, "positions changed across the reopen")
check(read.allSatisfy { $0.type == 7 }, "a record type changed")
let next = try await reopened.append(type: 7, payload: Array("after reopen".utf8))
check(next > positions.last!, "the position after reopening (\(next)) does not follow \(positions.last!)")
try await reopened.close()
print("LogConsumer: OK: \(payloads.count) records appended, reopened and read back")
