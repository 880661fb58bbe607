import CSQLite

/// SQLite at the same durability as `SyncPolicy.always`: WAL mode, `synchronous=FULL`, one
/// committed transaction per append, the same rows.
final class SQLiteBaseline {
    private var database: OpaquePointer?
    private var insert: OpaquePointer?
    private var position: Int64 = 0

    init(path: String) throws {
        guard sqlite3_open_v2(path, &database, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK else {
            throw BenchError("sqlite3_open_v2 \(path): \(String(cString: sqlite3_errmsg(database)))")
        }
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("CREATE TABLE records (position INTEGER PRIMARY KEY, type INTEGER NOT NULL, payload BLOB NOT NULL)")
        guard sqlite3_prepare_v2(database, "INSERT INTO records VALUES (?, ?, ?)", -1, &insert, nil) == SQLITE_OK else {
            throw BenchError("prepare: \(String(cString: sqlite3_errmsg(database)))")
        }
    }

    deinit {
        sqlite3_finalize(insert)
        sqlite3_close(database)
    }

    /// Inserts `payloads` as rows in one committed transaction.
    func commit(_ payloads: [[UInt8]]) throws {
        try execute("BEGIN")
        for payload in payloads {
            position += 1
            sqlite3_bind_int64(insert, 1, position)
            sqlite3_bind_int(insert, 2, 1)
            _ = payload.withUnsafeBytes { sqlite3_bind_blob(insert, 3, $0.baseAddress, Int32($0.count), nil) }
            guard sqlite3_step(insert) == SQLITE_DONE else {
                throw BenchError("insert: \(String(cString: sqlite3_errmsg(database)))")
            }
            sqlite3_reset(insert)
        }
        try execute("COMMIT")
    }

    private func execute(_ sql: String) throws {
        guard sqlite3_exec(database, sql, nil, nil, nil) == SQLITE_OK else {
            throw BenchError("\(sql): \(String(cString: sqlite3_errmsg(database)))")
        }
    }
}
