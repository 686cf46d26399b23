import { dirname, join } from 'node:path';

import { isInvalidHandle, loadWindivertLib, resolveWindivertLibrary, WINDIVERT_LIBRARY_NAME } from '../../../../host/nat-engine/drivers/windivert/windivert-lib';
import { WindivertUnavailableError } from '../../../../host/nat-engine/drivers/windivert/windivert-errors';

describe('the WinDivert binding', () => {
  it('takes a library file as is and a folder as the place of the library', () => {
    expect(resolveWindivertLibrary('/opt/algd/libwindivert-compat.so')).toBe('/opt/algd/libwindivert-compat.so');
    expect(resolveWindivertLibrary('C:/algd/WinDivert.dll')).toBe('C:/algd/WinDivert.dll');
    expect(resolveWindivertLibrary('/usr/lib/libfoo.so.2')).toBe('/usr/lib/libfoo.so.2');
    expect(resolveWindivertLibrary('/opt/algd')).toBe(join('/opt/algd', WINDIVERT_LIBRARY_NAME));
    expect(resolveWindivertLibrary()).toBe(join(dirname(process.execPath), WINDIVERT_LIBRARY_NAME));
  });

  it('recognises INVALID_HANDLE_VALUE and NULL, and nothing else', () => {
    for (const h of [null, undefined, 0n, 0xffffffffffffffffn, 0xffffffffn, -1n]) expect(isInvalidHandle(h)).toBe(true);
    for (const h of [1n, 0x7f0012345678n]) expect(isInvalidHandle(h)).toBe(false);
  });

  it('names the library it cannot load, and how to get it', () => {
    expect(() => loadWindivertLib('/nonexistent/libwindivert-compat.so')).toThrow(WindivertUnavailableError);
    expect(() => loadWindivertLib('/nonexistent/libwindivert-compat.so')).toThrow(/\/nonexistent\/libwindivert-compat\.so cannot be loaded \((build the compat library|install WinDivert)/);
  });

  if (process.platform === 'linux') {
    it('refuses a library that is not the compat library on Linux', () => {
      expect(() => loadWindivertLib('libc.so.6')).toThrow(/libc\.so\.6 lacks WinDivertOpen|is not the WinDivert compat library/);
    });
  }
});
