import { explainWindivertError, WIN32_ERROR, win32ErrorLabel, WindivertError } from '../../../../host/nat-engine/drivers/windivert/windivert-errors';

describe('WinDivert error codes', () => {
  const open = { operation: 'WinDivertOpen', driverFolder: 'C:\\Program Files\\algd', filter: 'tcp.DstPort == 21' };

  it.each([
    [WIN32_ERROR.ERROR_FILE_NOT_FOUND, 2, /driver files \(WinDivert64\.sys, WinDivert32\.sys\) were not found in C:\\Program Files\\algd/],
    [WIN32_ERROR.ERROR_ACCESS_DENIED, 5, /needs Administrator rights/],
    [WIN32_ERROR.ERROR_INVALID_PARAMETER, 87, /rejected the filter, layer, priority or flags \(filter: tcp\.DstPort == 21\)/],
    [WIN32_ERROR.ERROR_INVALID_IMAGE_HASH, 577, /in C:\\Program Files\\algd has no valid digital signature/],
    [WIN32_ERROR.ERROR_DRIVER_FAILED_PRIOR_UNLOAD, 654, /incompatible version of the WinDivert driver is already loaded/],
    [WIN32_ERROR.ERROR_SERVICE_DOES_NOT_EXIST, 1060, /driver service is not installed.*WINDIVERT_FLAG_NO_INSTALL/],
    [WIN32_ERROR.ERROR_DRIVER_BLOCKED, 1275, /blocked the WinDivert driver: security software .* virtual machine/],
    [WIN32_ERROR.EPT_S_NOT_REGISTERED, 1753, /Base Filtering Engine service \(BFE\) is not running/],
  ])('code %i (documented as %i) names its cause and remedy', (code, documented, pattern) => {
    expect(code).toBe(documented);
    expect(explainWindivertError(code, open)).toMatch(pattern);
  });

  it('builds messages naming the call, the cause and the code', () => {
    const err = new WindivertError(WIN32_ERROR.ERROR_ACCESS_DENIED, open);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('WindivertError');
    expect(err.code).toBe(5);
    expect(err.operation).toBe('WinDivertOpen');
    expect(err.message).toBe(
      'WinDivertOpen failed: access denied: opening WinDivert needs Administrator rights; run algd as an elevated Administrator or as a service (LocalSystem) [ERROR_ACCESS_DENIED (5)]',
    );
  });

  it('labels undocumented codes by number, and names the folder generically when unknown', () => {
    expect(win32ErrorLabel(1753)).toBe('EPT_S_NOT_REGISTERED (1753)');
    expect(win32ErrorLabel(4242)).toBe('Win32 error 4242');
    expect(new WindivertError(4242, { operation: 'WinDivertSendEx' }).message).toBe('WinDivertSendEx failed: WinDivert reported an error it does not document for this call [Win32 error 4242]');
    expect(explainWindivertError(2, { operation: 'WinDivertOpen' })).toContain('were not found in the folder of WinDivert.dll');
    expect(explainWindivertError(87, { operation: 'WinDivertOpen' })).not.toContain('filter:');
  });

  it('explains the data-path codes the driver handles', () => {
    expect(explainWindivertError(WIN32_ERROR.ERROR_NO_DATA, { operation: 'WinDivertRecvEx' })).toMatch(/shut down and its packet queue is empty/);
    expect(explainWindivertError(WIN32_ERROR.ERROR_INSUFFICIENT_BUFFER, { operation: 'WinDivertRecvEx' })).toMatch(/larger than the receive buffer/);
    expect(explainWindivertError(WIN32_ERROR.ERROR_HOST_UNREACHABLE, { operation: 'WinDivertSendEx' })).toMatch(/impostor packet ran out of TTL/);
  });
});
