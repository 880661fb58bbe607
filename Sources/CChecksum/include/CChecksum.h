#ifndef CCHECKSUM_H
#define CCHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli), chained like zlib's crc32: pass 0 to start, or the previous result to
/// continue, so crc(crc(0, a), b) == crc(0, a ++ b). Uses SSE4.2 when the CPU has it.
uint32_t asched_crc32c(uint32_t crc, const void *data, size_t length);

/// The portable table-driven implementation, exposed so the benchmark can compare it.
uint32_t asched_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// 1 when asched_crc32c uses the CPU's CRC32 instruction.
int asched_crc32c_is_hardware(void);

#endif
