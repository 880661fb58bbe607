import DequeModule
import SegmentLog

/// Items by kind as runs of log records, in delivery order: a service's queue, or a pending
/// transaction's frozen items. Memory is one ``ItemRun`` per record and kind, whatever the
/// items weigh; taking items costs O(runs taken), never O(queue).
public struct ItemRuns: Sendable, Equatable {
    private var runs: [Deque<ItemRun>] = Array(repeating: [], count: ItemKind.allCases.count)
    private var counts: [Int] = Array(repeating: 0, count: ItemKind.allCases.count)

    /// No items.
    public init() {}

    /// The runs of one kind, oldest first.
    public subscript(kind: ItemKind) -> Deque<ItemRun> { runs[kind.rawValue] }

    /// How many items of `kind` there are.
    public func count(_ kind: ItemKind) -> Int { counts[kind.rawValue] }

    /// Items of all kinds.
    public var count: Int { counts.reduce(0, +) }

    /// Whether there are no items.
    public var isEmpty: Bool { count == 0 }

    /// When the oldest item was enqueued.
    public var oldestEnqueuedAt: SchedulerInstant? {
        runs.compactMap { $0.first?.enqueuedAt }.min()
    }

    /// The positions of every record the runs read from, ascending, each once.
    public var positions: [LogPosition] {
        Set(runs.flatMap { $0.map(\.position) }).sorted()
    }

    /// Adds `run` after the runs of `kind`.
    mutating func append(_ run: ItemRun, _ kind: ItemKind) {
        if let last = runs[kind.rawValue].last {
            precondition(last.position <= run.position, "runs of \(kind) out of log order")
        }
        runs[kind.rawValue].append(run)
        counts[kind.rawValue] += Int(run.count)
    }

    /// Adds the items of a record at `position` holding `counts` items per kind.
    mutating func append(recordAt position: LogPosition, counts: [Int], enqueuedAt: SchedulerInstant) {
        for kind in ItemKind.allCases where counts[kind.rawValue] > 0 {
            append(ItemRun(position: position, first: 0, count: UInt32(counts[kind.rawValue]), enqueuedAt: enqueuedAt), kind)
        }
    }

    /// Removes and returns the first `taking[kind]` items of each kind.
    mutating func removeFirst(_ taking: [ItemKind: Int]) -> ItemRuns {
        var taken = ItemRuns()
        for (kind, wanted) in taking where wanted > 0 {
            precondition(wanted <= count(kind), "taking \(wanted) of \(count(kind)) \(kind)")
            var left = UInt32(wanted)
            while left > 0 {
                let run = runs[kind.rawValue].removeFirst()
                if run.count <= left {
                    taken.append(run, kind)
                    left -= run.count
                } else {
                    let (head, rest) = run.split(taking: left)
                    taken.append(head, kind)
                    runs[kind.rawValue].prepend(rest)
                    left = 0
                }
            }
            counts[kind.rawValue] -= wanted
        }
        return taken
    }

    /// The runs with those at ``LogPosition/start`` (a version 1 checkpoint's own items) moved
    /// to `position`, where that checkpoint is stored.
    func referring(to position: LogPosition) -> ItemRuns {
        guard runs.contains(where: { $0.contains { $0.position == .start } }) else { return self }
        var moved = self
        for kind in ItemKind.allCases {
            moved.runs[kind.rawValue] = Deque(runs[kind.rawValue].map {
                $0.position == .start ? ItemRun(position: position, first: $0.first, count: $0.count, enqueuedAt: $0.enqueuedAt) : $0
            })
        }
        return moved
    }
}
