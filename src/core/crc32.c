/* CRC-32 over byte ranges (zlib's), shared by shards (src/data) and
 * checkpoints (src/io). */
#include <zlib.h>

#include "dlt_base.h"

uint32_t dlt_crc32(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    /* crc32_z takes size_t, but keep to uInt-sized pieces for older zlibs */
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, b, k);
        b += k;
        n -= k;
    }
    return crc;
}
