import { parseRegQueryOutput, readPluginEnableFlags, REG_QUERY_ARGV, type RegistryRunResult } from '../../../host/service/windows/plugin-registry';

/** What reg.exe prints for `reg query HKLM\SOFTWARE\algd\Plugins /s` (CRLF line ends, a blank line around each key). */
const regOutput = (...lines: string[]): string => ['', ...lines, ''].join('\r\n');

describe('reg.exe output parser', () => {
  it('reads one Enable DWORD per plugin key, non-zero meaning enabled', () => {
    const out = regOutput(
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins',
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\ftp',
      '    Enable    REG_DWORD    0x1',
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\sip',
      '    Enable    REG_DWORD    0x0',
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\rtsp',
      '    Enable    REG_DWORD    0xffffffff',
      '',
    );
    expect(parseRegQueryOutput(out)).toEqual({ flags: { ftp: true, sip: false, rtsp: true }, problems: [] });
  });

  it('takes key and value names case-insensitively, as the registry does, and lower-cases plugin names', () => {
    const out = regOutput('HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\FTP', '    ENABLE    REG_DWORD    0x0', '');
    expect(parseRegQueryOutput(out)).toEqual({ flags: { ftp: false }, problems: [] });
  });

  it('ignores other values, values of the Plugins key itself and deeper keys', () => {
    const out = regOutput(
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins',
      '    Enable    REG_DWORD    0x1',
      '    (Default)    REG_SZ    ',
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\tftp',
      '    Description    REG_SZ    TFTP example plugin',
      '    Enable    REG_DWORD    0x1',
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\tftp\\Options',
      '    Enable    REG_DWORD    0x0',
      '',
    );
    expect(parseRegQueryOutput(out)).toEqual({ flags: { tftp: true }, problems: [] });
  });

  it('reports, and does not use, an Enable of another type or a key that is no plugin name', () => {
    const out = regOutput(
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\ftp',
      '    Enable    REG_SZ    0',
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\my plugin',
      '    Enable    REG_DWORD    0x1',
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\sip',
      '    Enable    REG_DWORD    1',
      '',
    );
    expect(parseRegQueryOutput(out)).toEqual({
      flags: {},
      problems: [
        'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\ftp\\Enable is REG_SZ 0, not a REG_DWORD: ignored',
        'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\my plugin: "my plugin" is not a plugin name (lower-case letters, digits, ".", "_", "-"): ignored',
        'HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\sip\\Enable is REG_DWORD 1, not a REG_DWORD: ignored',
      ],
    });
  });

  it('reports lines that are neither keys nor values, and keys outside Plugins', () => {
    const out = regOutput('HKEY_LOCAL_MACHINE\\SOFTWARE\\other\\ftp', '    Enable    REG_DWORD    0x1', 'End of search: 1 match(es) found.');
    expect(parseRegQueryOutput(out)).toEqual({
      flags: {},
      problems: ['unexpected key in reg.exe output: HKEY_LOCAL_MACHINE\\SOFTWARE\\other\\ftp', 'unexpected line in reg.exe output: "End of search: 1 match(es) found."'],
    });
  });

  it('reads an empty output as no flags', () => {
    expect(parseRegQueryOutput('')).toEqual({ flags: {}, problems: [] });
  });
});

describe('readPluginEnableFlags', () => {
  const runner = (result: RegistryRunResult) => {
    const calls: (readonly string[])[] = [];
    const run = async (argv: readonly string[]): Promise<RegistryRunResult> => {
      calls.push(argv);
      return result;
    };
    return { run, calls };
  };

  it('queries the 64-bit view of HKLM\\SOFTWARE\\algd\\Plugins recursively and returns the flags', async () => {
    const { run, calls } = runner({ code: 0, stdout: regOutput('HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\sip', '    Enable    REG_DWORD    0x0'), stderr: '' });
    await expect(readPluginEnableFlags(run)).resolves.toEqual({ sip: false });
    expect(calls).toEqual([['reg.exe', 'query', 'HKLM\\SOFTWARE\\algd\\Plugins', '/s', '/reg:64']]);
    expect(REG_QUERY_ARGV).toEqual(calls[0]);
  });

  it('passes what it ignored to the warning callback', async () => {
    const { run } = runner({ code: 0, stdout: regOutput('HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\ftp', '    Enable    REG_QWORD    0x1'), stderr: '' });
    const warnings: string[] = [];
    await expect(readPluginEnableFlags(run, (m) => warnings.push(m))).resolves.toEqual({});
    expect(warnings).toEqual(['plugin registry: HKEY_LOCAL_MACHINE\\SOFTWARE\\algd\\Plugins\\ftp\\Enable is REG_QWORD 0x1, not a REG_DWORD: ignored']);
  });

  it('returns no flags when the key does not exist', async () => {
    const { run } = runner({ code: 1, stdout: '', stderr: 'ERROR: The system was unable to find the specified registry key or value.\r\n' });
    await expect(readPluginEnableFlags(run)).resolves.toEqual({});
  });

  it('throws on any other failure, so a plugin the registry disables is never run by mistake', async () => {
    const { run } = runner({ code: 1, stdout: '', stderr: 'ERROR: Access is denied.\r\n' });
    await expect(readPluginEnableFlags(run)).rejects.toThrow('cannot read plugin flags from HKLM\\SOFTWARE\\algd\\Plugins: reg.exe exit code 1: ERROR: Access is denied.');
  });
});
