import Foundation

/// Paths of the shared fixtures in `Fixtures/asched`, and scratch directories for tests that
/// need files of their own.
enum Fixtures {
    /// The package's root directory.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let directory = repository + "/Fixtures/asched"

    static func path(_ name: String) -> String {
        directory + "/" + name
    }

    /// A new directory holding `files` (relative path to contents); the caller removes it.
    static func scratchDirectory(files: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("asched-http-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, contents) in files {
            let file = URL(fileURLWithPath: directory + "/" + name)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try contents.write(to: file, atomically: true, encoding: .utf8)
        }
        return directory
    }
}

/// The description of the error `body` throws, or nil when it throws none.
func errorText(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return String(describing: error)
    }
}
