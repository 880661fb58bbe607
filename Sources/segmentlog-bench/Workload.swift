/// Event-shaped payloads like the scheduler stores: JSON that varies per record.
enum Workload {
    static func event(_ index: Int, bytes: Int) -> [UInt8] {
        var text = "{\"type\":\"m.room.message\",\"room_id\":\"!room\(index % 97):example.org\","
            + "\"sender\":\"@user\(index % 1013):example.org\",\"event_id\":\"$\(index * 7919)\","
            + "\"origin_server_ts\":\(1_700_000_000_000 + index),\"content\":{\"msgtype\":\"m.text\",\"body\":\""
        var filler = UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15
        while text.utf8.count < bytes - 3 {
            filler = filler &* 6364136223846793005 &+ 1442695040888963407
            text += ["hello ", "world ", "matrix ", "bridge ", "\(filler >> 40) "][Int(filler >> 61) % 5]
        }
        return Array((text.prefix(bytes - 3) + "\"}}").utf8)
    }
}
