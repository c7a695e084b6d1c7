/* keyslot.h -- CRC16-XMODEM and hash slots (pure). */
#ifndef CLUSTERC_KEYSLOT_H
#define CLUSTERC_KEYSLOT_H
#include <stddef.h>
#include <stdint.h>

/* CRC16-XMODEM (poly 0x1021, init 0, no reflection): the cluster's key hash. */
uint16_t clusterc__crc16(const char *buf, size_t len);

#endif
