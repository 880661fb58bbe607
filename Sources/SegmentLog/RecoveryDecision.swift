/// Recovery as one decision table: every kind of damage a reader can find, at every place it can
/// be found, and what it leads to. `LogCursor` classifies what it reads into a ``LogDamage`` and
/// acts on ``RecoveryDecision/action(for:at:)``; opening a log (`LogRecovery`), `repair` and
/// `verify` act on the cursor's outcome; nothing else decides. (In the spirit of TigerBeetle's
/// `recovery_cases`.) `RecoveryTableTests` builds every row on disk and checks its outcome.
///
/// The rule behind the table (DESIGN.md, docs/FORMAT.md §8): only what an unfinished write can
/// leave, at the end of the last segment, is dropped (and reported); a sealed segment was complete
/// before the next one existed, so any bad byte in it is damage; header, chain and ordering
/// problems are damage wherever they are.
package enum LogDamage: CaseIterable, Sendable {
    // Found while scanning a segment's frames, at the offset of the first frame that fails.

    /// The invalid bytes and everything after them are zero: preallocated space never written.
    case zeroFilledTail
    /// The frame failed when scanned but is valid when read again: a live writer finished it
    /// meanwhile (only a reader beside a writer sees this).
    case frameCompletedSinceRead
    /// A short frame, an implausible header or a bad checksum, with no valid later record after
    /// it (or only after an all-zero sector, a page a crash kept from the disk): a torn write.
    case tornFrame
    /// A short frame, an implausible header or a bad checksum, followed by a valid record with a
    /// later position and no unwritten sector between: damage, not a torn write.
    case invalidFrameBeforeValidRecord
    /// A checksum-valid frame whose position does not follow the previous record's.
    case positionOutOfOrder
    /// A checksum-valid frame whose LZ4 payload does not decompress to its raw length.
    case undecompressiblePayload
    /// The file got shorter than it was when its size was read.
    case fileShrank

    // Found in a segment's header, or between one segment and the one before it.

    /// The header fails a check (short file, magic, CRC, length, flags, ids) or names another id.
    case badSegmentHeader
    /// The header is intact but written by another format version.
    case unknownFormatVersion
    /// The header's previous chain is not the chain the log before it ends with: a segment
    /// before it (the first one included) is missing or was replaced.
    case brokenChain
    /// The header's first position is not after the previous segment's.
    case segmentOutOfOrder
}

/// Where damage was found.
package enum DamagePlace: CaseIterable, Sendable {
    /// The last segment listed: the one a writer appends to, whose end a crash may leave unfinished.
    case lastSegment
    /// Any other segment, or the last one when it is read as sealed (compaction's input).
    case sealedSegment
}

/// What a kind of damage at a place leads to.
package enum RecoveryAction: Sendable, Equatable {
    /// The log ends here; nothing is lost or reported, and a writer overwrites from here.
    case endOfLog
    /// The log ends here; the bytes from here on are a ``TornTail``: a writer's open cuts them and
    /// reports it, `verify` warns, `repair` cuts them too.
    case cutTornTail
    /// A hard error naming file and offset (open refuses the log, `verify` fails); `repair` may
    /// cut the last segment here, keeping a `.broken` copy.
    case refuseRepairable
    /// A hard error naming file and offset; `repair` refuses too: the log must be restored.
    case refuse
}

/// One piece of damage found: what, where, and (from the table) what it leads to.
package struct RecoveryDecision: Sendable, Equatable {
    let damage: LogDamage
    let place: DamagePlace
    /// The segment file's path.
    let file: String
    /// Where in it the damage starts (0 for a header or chain problem).
    let offset: Int

    var action: RecoveryAction { Self.action(for: damage, at: place) }

    /// The table.
    package static func action(for damage: LogDamage, at place: DamagePlace) -> RecoveryAction {
        let row: (last: RecoveryAction, sealed: RecoveryAction)
        switch damage {
        //                                    in the last segment     in a sealed segment
        case .zeroFilledTail:                row = (.endOfLog,         .refuse)
        case .frameCompletedSinceRead:       row = (.endOfLog,         .refuse)
        case .tornFrame:                     row = (.cutTornTail,      .refuse)
        case .invalidFrameBeforeValidRecord: row = (.refuseRepairable, .refuse)
        case .positionOutOfOrder:            row = (.refuseRepairable, .refuse)
        case .undecompressiblePayload:       row = (.refuseRepairable, .refuse)
        case .fileShrank:                    row = (.refuseRepairable, .refuse)
        case .badSegmentHeader:              row = (.refuse,           .refuse)
        case .unknownFormatVersion:          row = (.refuse,           .refuse)
        case .brokenChain:                   row = (.refuse,           .refuse)
        case .segmentOutOfOrder:             row = (.refuse,           .refuse)
        }
        switch place {
        case .lastSegment: return row.last
        case .sealedSegment: return row.sealed
        }
    }

    /// The damage an error from reading a segment's header stands for; nil for an I/O error.
    static func headerDamage(of error: SegmentLogError) -> LogDamage? {
        switch error {
        case .corruptSegmentHeader: return .badSegmentHeader
        case .unsupportedFormatVersion: return .unknownFormatVersion
        default: return nil
        }
    }
}
