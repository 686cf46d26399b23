/**
 * Names of the lab's network namespaces.
 *
 * A lab's namespaces are `algd-<pid>-<rand4>[-<label>]-cli|gw|srv|cl2`: the
 * pid of the process that owns them (so a sweep can tell a crashed run's
 * leftovers from a live run's), four random hex digits (so one process can
 * hold several labs), an optional label and the host's role (`cl2` is the
 * second client, present only in labs built with `secondClient`). Nothing
 * that does not match this pattern exactly is ever treated as ours.
 */

import { randomBytes } from 'node:crypto';

/** The hosts of the lab: always client, gateway and server; client2 only with `secondClient`. */
export type LabHost = 'client' | 'gateway' | 'server' | 'client2';

export const LAB_HOSTS: readonly LabHost[] = ['client', 'gateway', 'server', 'client2'];

const SUFFIX: Readonly<Record<LabHost, string>> = { client: 'cli', gateway: 'gw', server: 'srv', client2: 'cl2' };

const LABEL = /^[a-z0-9]{1,12}$/;
const LAB_NAMESPACE = /^algd-([1-9][0-9]{0,9})-([0-9a-f]{4})(?:-([a-z0-9]{1,12}))?-(cli|gw|srv|cl2)$/;

/** The namespace of each host a lab has. */
export interface LabNamespaces {
  readonly client: string;
  readonly gateway: string;
  readonly server: string;
  /** Only in labs with a second client. */
  readonly client2?: string;
}

/** A lab's identity: its id (`algd-<pid>-<rand4>[-label]`) and one namespace name per host. */
export interface LabNames {
  readonly id: string;
  readonly namespaces: LabNamespaces;
}

/**
 * Fresh names for a lab owned by `pid`; `label` (lower-case letters and
 * digits, at most 12) is optional; `secondClient` adds client2's namespace.
 */
export function newLabNames(pid: number, label?: string, secondClient = false): LabNames {
  if (label !== undefined && !LABEL.test(label)) {
    throw new Error(`lab name must be 1-12 lower-case letters or digits, got ${JSON.stringify(label)}`);
  }
  const id = `algd-${pid}-${randomBytes(2).toString('hex')}${label === undefined ? '' : `-${label}`}`;
  const name = (host: LabHost): string => `${id}-${SUFFIX[host]}`;
  const base = { client: name('client'), gateway: name('gateway'), server: name('server') };
  return { id, namespaces: secondClient ? { ...base, client2: name('client2') } : base };
}

/** The owner pid when `name` is a lab namespace name, otherwise undefined. */
export function labNamespaceOwner(name: string): number | undefined {
  const m = LAB_NAMESPACE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Namespace names from `ip netns list` output (`NAME` or `NAME (id: N)` per line). */
export function parseNetnsList(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.length > 0);
}
