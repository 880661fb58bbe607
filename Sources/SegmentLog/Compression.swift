/// How record payloads are compressed before they are stored.
public enum Compression: Sendable, Equatable {
    /// Store every payload as given.
    case none
    /// Compress payloads of at least `thresholdBytes` with LZ4, keeping the compressed form only
    /// when it is smaller.
    case lz4(thresholdBytes: Int)
    /// Like ``lz4(thresholdBytes:)``, but only for appends made while the log is writing or
    /// syncing an earlier batch: such an append waits for that sync anyway, so compressing it
    /// costs it no time. An append to an idle log is stored as given and written at once, so a lone
    /// appender never waits for the compressor (LZ4 takes about 1 µs per 600-byte event, more
    /// than the disk takes to write the bytes it saves). Which records end up compressed depends
    /// on timing; readers need not know, since every frame says whether it is compressed.
    ///
    /// ```swift
    /// var configuration = SegmentLog.Configuration()
    /// configuration.compression = .lz4WhileCommitting(thresholdBytes: 128)
    /// ```
    case lz4WhileCommitting(thresholdBytes: Int)

    /// LZ4 for payloads of 128 bytes or more, appended while the log commits an earlier batch:
    /// compression only where it costs no append any time. (A lone appender's 100 × 600-byte
    /// appends ran at 0.63x of raw with LZ4 on every record and 1.00x this way, docs/PERFORMANCE.md.)
    public static let `default` = Compression.lz4WhileCommitting(thresholdBytes: 128)

    /// The size from which an append compresses payloads, or nil when it compresses none;
    /// `committing()` says whether the log is writing or syncing a batch, and is asked only when
    /// that matters.
    func lz4Threshold(committing: () -> Bool) -> Int? {
        switch self {
        case .none: nil
        case .lz4(let threshold): threshold
        case .lz4WhileCommitting(let threshold): committing() ? threshold : nil
        }
    }
}
