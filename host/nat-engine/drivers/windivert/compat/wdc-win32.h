/* The Win32 error codes the compat library reports, with WinDivert's documented meanings where it has them. */
#ifndef WDC_WIN32_H
#define WDC_WIN32_H

#define WDC_ERROR_FILE_NOT_FOUND 2          /* WinDivertOpen: "driver files" missing; here: iptables not installed */
#define WDC_ERROR_ACCESS_DENIED 5           /* not privileged (root / CAP_NET_ADMIN) */
#define WDC_ERROR_INVALID_HANDLE 6
#define WDC_ERROR_NOT_ENOUGH_MEMORY 8
#define WDC_ERROR_GEN_FAILURE 31            /* the netfilter setup failed for another reason */
#define WDC_ERROR_NOT_SUPPORTED 50
#define WDC_ERROR_INVALID_PARAMETER 87
#define WDC_ERROR_INSUFFICIENT_BUFFER 122
#define WDC_ERROR_NO_DATA 232
#define WDC_ERROR_OPERATION_ABORTED 995
#define WDC_ERROR_HOST_UNREACHABLE 1232

#endif
