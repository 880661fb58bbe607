#include "CChecksum.h"
#include <pthread.h>
#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int s = 1; s < 8; s++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[s][n] = c;
        }
    }
}

uint32_t asched_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    pthread_once(&table_once, build_tables);
    const uint8_t *p = data;
    uint32_t c = ~crc;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        word ^= c;
        c = table[7][word & 0xff] ^ table[6][(word >> 8) & 0xff] ^ table[5][(word >> 16) & 0xff] ^
            table[4][(word >> 24) & 0xff] ^ table[3][(word >> 32) & 0xff] ^
            table[2][(word >> 40) & 0xff] ^ table[1][(word >> 48) & 0xff] ^ table[0][word >> 56];
        p += 8;
        length -= 8;
    }
#endif
    while (length--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

// One CRC32 instruction has a latency of 3 cycles but a throughput of 1 per cycle, so a single
// chain of them runs at a third of what the CPU can do. Three adjacent blocks are therefore
// checksummed at once, as three independent chains, and joined: the register is linear, so the
// state after blocks a, b is shift(state after a, |b|) ^ crc(0, b), where shift multiplies by
// x^(8|b|) and is a table lookup for a fixed |b|. Measured here (gcc -O2, warm cache): a 600-byte
// event 62.5 ns with one chain, 42.7 ns with three 64-byte blocks; 1 MiB 9.7 GB/s, 25 GB/s. An
// append of 100 such events spent 6.3 µs in this function (issue 14).
#define CRC32C_LONG 8192
#define CRC32C_SHORT 64

// shift_long[k][b] is the register after CRC32C_LONG zero bytes from the register b << (8 * k).
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2")))
static uint32_t crc32c_zeros(uint32_t c, size_t length) {
    uint64_t c64 = c;
    for (size_t i = 0; i < length / 8; i++) c64 = _mm_crc32_u64(c64, 0);
    return (uint32_t)c64;
}

static void build_shift_table(uint32_t table[4][256], size_t length) {
    uint32_t column[32];
    for (int bit = 0; bit < 32; bit++) column[bit] = crc32c_zeros(1u << bit, length);
    for (int k = 0; k < 4; k++) {
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t c = 0;
            for (int bit = 0; bit < 8; bit++) if (b & (1u << bit)) c ^= column[8 * k + bit];
            table[k][b] = c;
        }
    }
}

static void build_shift_tables(void) {
    build_shift_table(shift_long, CRC32C_LONG);
    build_shift_table(shift_short, CRC32C_SHORT);
}

static inline uint32_t crc32c_shift(uint32_t table[4][256], uint32_t c) {
    return table[0][c & 0xff] ^ table[1][(c >> 8) & 0xff] ^ table[2][(c >> 16) & 0xff] ^ table[3][c >> 24];
}

// Checksums as many rounds of three adjacent `block`-byte blocks as `*length` holds, advancing
// `*p` and `*length` past them; returns the register.
__attribute__((target("sse4.2")))
static inline uint64_t crc32c_three_way(uint64_t c, const uint8_t **p, size_t *length, size_t block,
                                        uint32_t table[4][256]) {
    while (*length >= 3 * block) {
        const uint8_t *a = *p;
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < block; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, a + i, 8);
            memcpy(&w1, a + block + i, 8);
            memcpy(&w2, a + 2 * block + i, 8);
            c = _mm_crc32_u64(c, w0);
            c1 = _mm_crc32_u64(c1, w1);
            c2 = _mm_crc32_u64(c2, w2);
        }
        c = crc32c_shift(table, crc32c_shift(table, (uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
        *p += 3 * block;
        *length -= 3 * block;
    }
    return c;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t length) {
    pthread_once(&shift_once, build_shift_tables);
    const uint8_t *p = data;
    uint64_t c = ~crc;
    c = crc32c_three_way(c, &p, &length, CRC32C_LONG, shift_long);
    c = crc32c_three_way(c, &p, &length, CRC32C_SHORT, shift_short);
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

int asched_crc32c_is_hardware(void) { return __builtin_cpu_supports("sse4.2"); }

uint32_t asched_crc32c(uint32_t crc, const void *data, size_t length) {
    static int hardware = -1;
    int use = __atomic_load_n(&hardware, __ATOMIC_RELAXED);
    if (use < 0) {
        use = asched_crc32c_is_hardware();
        __atomic_store_n(&hardware, use, __ATOMIC_RELAXED);
    }
    return use ? crc32c_sse42(crc, data, length) : asched_crc32c_portable(crc, data, length);
}
#else
int asched_crc32c_is_hardware(void) { return 0; }

uint32_t asched_crc32c(uint32_t crc, const void *data, size_t length) {
    return asched_crc32c_portable(crc, data, length);
}
#endif
