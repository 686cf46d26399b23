/**
 * The gateway side of the driver throughput bench: algd's NatEngine behind
 * the NfqueueDriver, as in test/e2e/nfqueue-driver.test.ts, without
 * listeners. Run inside the lab's gateway namespace:
 *
 * `node driver-harness.js '{"queueNum":…,"stateDir":…,"spec":{…}}'`
 *
 * Prints READY once the driver is open. Commands on stdin, one per line:
 * `map <MappingSpec JSON>` → `MAPPED <id>`; `stats` → `STATS <json>`;
 * `stop` → closes the driver, `STOPPED <json>`, exit 0. SIGTERM and SIGINT
 * close the driver too (the lab's teardown sends SIGTERM).
 */

import { createInterface } from 'node:readline';

import type { CaptureSpec } from '../host/nat-engine/drivers/capture-spec';
import { NfqueueDriver } from '../host/nat-engine/drivers/nfqueue/nfqueue-driver';
import { NatEngine } from '../host/nat-engine/nat-engine';
import type { MappingSpec } from '../host/nat-engine/translation/mapping';

interface HarnessConfig {
  readonly queueNum: number;
  readonly stateDir: string;
  readonly spec: CaptureSpec;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as HarnessConfig;
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const engine = new NatEngine();
const driver = new NfqueueDriver({
  queueNum: cfg.queueNum,
  failOpen: true,
  stateDir: cfg.stateDir,
  log: (level, m) => void process.stderr.write(`[${level}] ${m}\n`),
});
const tick = setInterval(() => engine.tick(), 1000);
const snapshot = (): string => JSON.stringify({ driver: driver.details, engine: engine.counters.snapshot(), flows: engine.flowCount, cpu: process.cpuUsage() });

let stopping: Promise<void> | undefined;
const stop = (): Promise<void> => {
  stopping ??= (async () => {
    clearInterval(tick);
    try {
      await driver.close();
    } finally {
      process.stdout.write(`STOPPED ${snapshot()}\n`, () => process.exit(0));
    }
  })();
  return stopping;
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

driver.open(cfg.spec, engine).then(
  () => out('READY'),
  (err: unknown) => {
    out(`FAILED ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, ...rest] = line.trim().split(' ');
  if (cmd === 'map') {
    try {
      out(`MAPPED ${engine.createMapping(JSON.parse(rest.join(' ')) as MappingSpec).id}`);
    } catch (err) {
      out(`ERROR ${err instanceof Error ? err.message : String(err)}`);
    }
  } else if (cmd === 'stats') {
    out(`STATS ${snapshot()}`);
  } else if (cmd === 'stop') {
    void stop();
  }
});
