/// The services with a send under way in this process. The log's `inFlight` may instead name a
/// send that a crash interrupted, which is sent again on open.
struct SendsInFlight {
    private var services: Set<String> = []

    func contains(_ service: String) -> Bool { services.contains(service) }

    mutating func begin(_ service: String) {
        let (inserted, _) = services.insert(service)
        precondition(inserted, "two sends in flight for \(service)")
    }

    mutating func end(_ service: String) {
        let removed = services.remove(service)
        precondition(removed != nil, "a send of \(service) ended that never began")
    }
}
