import Glibc
import SegmentLog
import SegmentLogTesting

// Regenerates Fixtures/segmentlog: `swift run make-fixtures Fixtures/segmentlog`.
let arguments = CommandLine.arguments.dropFirst()
guard let root = arguments.first, arguments.count == 1 else {
    print("usage: make-fixtures OUTPUT_DIRECTORY   (writes \(LogFixtures.names.joined(separator: ", ")) into it)")
    exit(2)
}
do {
    try await LogFixtures.write(to: root)
    print("wrote \(LogFixtures.names.count) fixture logs to \(root)")
} catch {
    print("make-fixtures: \(error)")
    exit(1)
}
