// Append records durably, read them back, and reopen: the SegmentLog API in one page.
// Run with `swift run SegmentLogQuickStart`.
import Foundation
import SegmentLog

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("segmentlog-quickstart-\(getpid())").path

// Open (creating) a log. Appends return once an fdatasync covering them has returned.
var configuration = SegmentLog.Configuration()
configuration.segmentSizeBytes = 4096  // tiny segments, to show several files
let log = try SegmentLog.open(directory: directory, configuration: configuration)

// One record, then a batch; concurrent appenders share syncs (group commit). Payloads of 128
// bytes or more appended while an earlier batch syncs are LZ4-compressed (they wait anyway); a
// lone appender's are stored as given: `configuration.compression = .lz4(thresholdBytes: 128)`
// compresses every one.
let first = try await log.append(type: 1, payload: Array("hello".utf8))
let batch = try await log.append(contentsOf: (1...100).map { index in
    LogEntry(type: 2, payload: Array("{\"event\": \(index), \"body\": \"\(String(repeating: "a compressible payload ", count: 8))\"}".utf8))
})
print("appended position \(first) and positions \(batch)")

// Read from any position: every frame's checksum and the segment chain are checked.
var cursor = try log.records(from: batch.lowerBound)
let record = try cursor.next()!
print("read back position \(record.position): \(String(decoding: record.payload, as: UTF8.self))")
print("statistics: \(log.statistics.appendedRecords) records, \(log.statistics.syncs) syncs, "
    + "compression \(String(format: "%.2f", log.statistics.compressionRatio))x")
try await log.close()

// Reopen: positions never change, and appends continue after the last record.
let reopened = try SegmentLog.open(directory: directory, configuration: configuration)
let next = try await reopened.append(type: 1, payload: Array("again".utf8))
print("after reopen the next position is \(next); segments: \(try LogReader(directory: directory).segmentFileNames)")
try await reopened.close()
try FileManager.default.removeItem(atPath: directory)
