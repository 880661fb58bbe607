/// Why ``JSONScanner`` refused a text: the byte offset where it stopped and what it expected
/// there, e.g. `byte 1042: expected ',' or '}' after an object member`.
package struct JSONScanError: Error, Equatable, CustomStringConvertible {
    /// The offset, from 0, of the first byte that cannot continue a JSON text (the body's length
    /// when the text ends too early).
    package let offset: Int
    /// What was expected there, or what is wrong with it.
    package let problem: String

    /// A refusal at `offset` for `problem`.
    package init(offset: Int, problem: String) {
        self.offset = offset
        self.problem = problem
    }

    package var description: String { "byte \(offset): \(problem)" }
}
