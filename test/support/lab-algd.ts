/**
 * `algd start` in the lab's gateway for the tests of one describe block:
 * started before them, stopped with SIGTERM after them (which must exit 0),
 * and asked for its status in between.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Lab } from '../../host/lab/lab';
import type { LabProcess } from '../../host/lab/lab-process';
import { GATEWAY_PRIVATE_IFACE, GATEWAY_PUBLIC_IFACE } from '../../host/lab/topology';
import { ALGD_BIN } from './algd-process';

export interface LabAlgd {
  /** `algd status --json`, parsed. */
  status<T = unknown>(): Promise<T>;
  /** The running `algd start`. */
  process(): LabProcess;
  readonly configFile: () => string;
}

/**
 * Registers beforeAll/afterAll that run algd with `config()` over the
 * defaults: the nfqueue driver, priv0 private and pub0 boundary, an admin
 * socket named after `name` in the lab's work dir.
 */
export function useLabAlgd(lab: () => Lab, name: string, config: () => Record<string, unknown> = () => ({})): LabAlgd {
  let algd: LabProcess | undefined;
  const configFile = (): string => join(lab().workDir, `algd-${name}.json`);
  beforeAll(async () => {
    writeFileSync(configFile(), JSON.stringify({
      driver: 'nfqueue',
      adapters: [{ name: GATEWAY_PRIVATE_IFACE, type: 'private' }, { name: GATEWAY_PUBLIC_IFACE, type: 'boundary' }],
      adminSocket: join(lab().workDir, `algd-${name}.sock`),
      ...config(),
    }));
    algd = lab().spawn('gateway', [process.execPath, ALGD_BIN, 'start', '--config', configFile()]);
    await algd.waitForOutput(/running/, 20_000);
  });
  afterAll(async () => {
    if (algd?.running) expect((await algd.kill('SIGTERM')).code).toBe(0);
  });
  return {
    status: async <T>() => JSON.parse((await lab().execOk('gateway', [process.execPath, ALGD_BIN, 'status', '--json', '--config', configFile()])).stdout) as T,
    process: () => {
      if (!algd) throw new Error('algd did not start (see beforeAll)');
      return algd;
    },
    configFile,
  };
}
