/*
 * The WinDivert 2.x user-mode API subset algd uses, implemented on Linux
 * over NFQUEUE (windivert-compat.c), so the Windows driver path can run in
 * the lab. Declarations follow WinDivert's documented API (types spelled
 * with <stdint.h>): the same exported names, argument order and ABI, so
 * algd's koffi binding loads either library unchanged.
 *
 * Differences from WinDivert, by design:
 * - Only WINDIVERT_LAYER_NETWORK; only the filter subset of wdc-filter.h;
 *   no overlapped I/O (lpOverlapped must be NULL).
 * - GetLastError() is WinDivertCompatGetLastError() (thread-local).
 * - A received packet sent back continues where it was captured (the
 *   verdict carries its possibly modified bytes); its IfIdx is not re-read.
 *   One captured inbound and sent with Outbound set is dropped where it was
 *   and its bytes injected with a raw socket: the gateway sends it, routed
 *   by its destination, as WinDivert's outbound path does. The library
 *   recognises its own packets by a token it writes into the reserved part
 *   of WINDIVERT_ADDRESS (bytes 24..31). Any other packet is injected as an
 *   impostor with a raw socket, routed by its destination (there is no
 *   inbound injection on Linux).
 * - A received packet not sent back within WINDIVERT_PARAM_QUEUE_TIME is
 *   dropped (WinDivert drops it at once: it is gone from the stack).
 * - The priority is validated but does not order handles.
 */
#ifndef WINDIVERT_COMPAT_H
#define WINDIVERT_COMPAT_H

#include <stdint.h>

#define WDC_EXPORT __attribute__((visibility("default")))

typedef void *WDC_HANDLE;

/* WINDIVERT_ADDRESS: handled as its 80 raw bytes (see the offsets in windivert-compat.c). */
#define WDC_ADDRESS_SIZE 80

WDC_EXPORT WDC_HANDLE WinDivertOpen(const char *filter, int layer, int16_t priority, uint64_t flags);
WDC_EXPORT int WinDivertRecv(WDC_HANDLE handle, void *pPacket, unsigned packetLen, unsigned *pRecvLen, void *pAddr);
WDC_EXPORT int WinDivertRecvEx(WDC_HANDLE handle, void *pPacket, unsigned packetLen, unsigned *pRecvLen, uint64_t flags,
                               void *pAddr, unsigned *pAddrLen, void *lpOverlapped);
WDC_EXPORT int WinDivertSend(WDC_HANDLE handle, const void *pPacket, unsigned packetLen, unsigned *pSendLen, const void *pAddr);
WDC_EXPORT int WinDivertSendEx(WDC_HANDLE handle, const void *pPacket, unsigned packetLen, unsigned *pSendLen, uint64_t flags,
                               const void *pAddr, unsigned addrLen, void *lpOverlapped);
WDC_EXPORT int WinDivertShutdown(WDC_HANDLE handle, int how);
WDC_EXPORT int WinDivertClose(WDC_HANDLE handle);
WDC_EXPORT int WinDivertSetParam(WDC_HANDLE handle, int param, uint64_t value);
WDC_EXPORT int WinDivertGetParam(WDC_HANDLE handle, int param, uint64_t *pValue);
WDC_EXPORT int WinDivertHelperCalcChecksums(void *pPacket, unsigned packetLen, void *pAddr, uint64_t flags);
/* The filter helpers: no privileges, no netfilter (what the unit tests use). The "object" is the filter text itself. */
WDC_EXPORT int WinDivertHelperCompileFilter(const char *filter, int layer, char *object, unsigned objLen, const char **errorStr,
                                            unsigned *errorPos);
WDC_EXPORT int WinDivertHelperEvalFilter(const char *filter, const void *pPacket, unsigned packetLen, const void *pAddr);

/* GetLastError() of the calling thread, for the calls above. */
WDC_EXPORT uint32_t WinDivertCompatGetLastError(void);
/* Why the calling thread's last WinDivertOpen rejected its filter (NULL if it did not), and where. */
WDC_EXPORT const char *WinDivertCompatFilterError(unsigned *pos);

#endif
