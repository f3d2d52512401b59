//! Key -> Redis Cluster hash slot (CRC16/XMODEM mod 16384 with the `{hash tag}` rule) -> shard.

pub const SLOTS: usize = 16384;

const fn crc16_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC16: [u16; 256] = crc16_table();

pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| (crc << 8) ^ CRC16[((crc >> 8) as u8 ^ b) as usize])
}

/// The slot of a key: only the part inside the first non-empty `{...}` is hashed, if any.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match memchr::memchr(b'{', key) {
        Some(open) => match memchr::memchr(b'}', &key[open + 1..]) {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) % SLOTS as u16
}

/// The fixed slot table: contiguous slot ranges per shard, as a cluster would split them.
pub fn slot_shard(slot: u16, shards: usize) -> usize {
    slot as usize * shards / SLOTS
}

pub fn key_shard(key: &[u8], shards: usize) -> usize {
    if shards == 1 { 0 } else { slot_shard(key_slot(key), shards) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_cluster() {
        // Reference values from Redis Cluster's CLUSTER KEYSLOT.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"{user1000}.followers"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % 16384);
        assert_eq!(key_slot(b"foo{{bar}}zap"), crc16(b"{bar") % 16384);
        assert_eq!(key_slot(b"foo{bar}{zap}"), crc16(b"bar") % 16384);
    }

    #[test]
    fn every_shard_gets_slots() {
        for n in 1..=8 {
            let mut seen = vec![false; n];
            for s in 0..SLOTS as u16 {
                seen[slot_shard(s, n)] = true;
            }
            assert!(seen.iter().all(|&x| x));
        }
    }
}
