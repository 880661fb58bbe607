import AppServiceHTTP
import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import Testing

/// The offline commands against the committed scheduler logs in Fixtures/schedulerlog.
@Suite struct FixtureInspectionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/schedulerlog").path

    static func path(_ fixture: String, _ segment: Int? = nil) -> String {
        root + "/" + fixture + (segment.map { "/" + String(format: "%016x.seg", $0) } ?? "")
    }

    @Test func verifyFindsExactlyWhatEachFixtureHolds() throws {
        let clean = try AschedBinary.run(["verify", Self.path("clean")])
        #expect(clean.status == 0 && clean.standardOutput.contains(
            "checked \(SchedulerLogFixtures.records.count) records in 5 segments"))
        #expect(clean.standardOutput.contains("0 errors, 0 warnings"))

        let torn = try AschedBinary.run(["verify", Self.path("torn-tail")])
        let cleanLastSize = try FileManager.default.attributesOfItem(atPath: Self.path("clean", 5))[.size] as! Int
        #expect(torn.status == 0)
        #expect(torn.standardOutput.contains("warning: \(Self.path("torn-tail", 5)) at offset \(cleanLastSize): torn tail: 30 bytes"))

        let corrupt = try AschedBinary.run(["verify", Self.path("corrupt-middle")])
        #expect(corrupt.status == 1)
        #expect(corrupt.standardOutput.contains("error: \(Self.path("corrupt-middle", 2)) at offset 56: checksum mismatch: frame says 0x"))

        let missing = try AschedBinary.run(["verify", Self.path("missing-segment")])
        #expect(missing.status == 1)
        #expect(missing.standardOutput.contains("error: \(Self.path("missing-segment", 3)) at offset 32: previous chain: expected 0x"))
    }

    @Test func stateAndDumpOfTheCleanFixtureMatchItsRecords() throws {
        var state = SchedulerState()
        for (offset, record) in SchedulerLogFixtures.records.enumerated() {
            try state.apply(record, at: LogPosition(rawValue: UInt64(offset) + 1))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let expected = try JSONSerialization.jsonObject(with: encoder.encode(ServiceStatus.all(in: state))) as? NSArray

        let output = try AschedBinary.run(["state", Self.path("clean"), "--json"]).standardOutput
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        #expect(object["services"] as? NSArray == expected)
        #expect(object["records"] as? Int == SchedulerLogFixtures.records.count)

        let dump = try AschedBinary.run(["dump", Self.path("clean"), "--json"]).standardOutput
        let types = try dump.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["type"] as? String
        }
        #expect(types == SchedulerLogFixtures.records.map(\.type.name))
    }

    @Test func repairCutsTheTornTailOfACopyAndRefusesTheCorruptMiddle() throws {
        let copy = FileManager.default.temporaryDirectory.path + "/asched-fixture-" + UUID().uuidString
        try FileManager.default.copyItem(atPath: Self.path("torn-tail"), toPath: copy)
        let dryRun = try AschedBinary.run(["repair", copy, "--dry-run"])
        #expect(dryRun.status == 0 && dryRun.standardOutput.contains("would cut 0000000000000005.seg"))
        let repaired = try AschedBinary.run(["repair", copy])
        #expect(repaired.status == 0 && repaired.standardOutput.contains("the original is kept as 0000000000000005.seg.broken"))
        #expect(try AschedBinary.run(["verify", copy]).standardOutput.contains("0 errors, 0 warnings"))

        let refused = try AschedBinary.run(["repair", Self.path("corrupt-middle"), "--dry-run"])
        #expect(refused.status != 0 && refused.standardError.contains("repair refused at \(Self.path("corrupt-middle", 2))"))
    }
}
