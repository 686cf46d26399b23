/**
 * The nfqueue driver's kernel redirect (KernelRedirect): one element per
 * captured TCP control port in the nat table's maps `redirect4`/`redirect6`
 * (nat-guard.ts), `tcp . 21 : 127.0.0.1 . 3021`. The capture queues only
 * those ports' SYNs; the engine's verdict on a SYN it captures adds
 * ALGD_REDIRECT_MARK, and the nat prerouting chain sends the connection to
 * the listener of its port. Conntrack then carries the connection both ways
 * (the listener's replies leave with the server's address), and records
 * the redirect as NAT it undoes when the connection ends. IPv4 listeners
 * are on 127.0.0.1, which route_localnet lets through (route-localnet.ts).
 *
 * A port whose element is missing (not yet installed, refused) leaves a
 * marked SYN untranslated: the connection goes to its server uncaptured,
 * as when algd is not running.
 */

import type { Port } from '@algd/sdk';

import type { KernelRedirect, KernelRedirectEntry } from '../kernel-redirect';
import type { CommandRunner } from './command-runner';
import type { LogFn } from '../throttled-log';
import { NAT_GUARD_TABLE, redirectMapName } from './nat-guard';
import { NftCommands } from './nft-commands';

export class KernelRedirectError extends Error {
  override readonly name = 'KernelRedirectError';
}

/** `tcp . 21`: a map key. */
function key(port: Port): string {
  return `tcp . ${port}`;
}

/** The transaction that makes the map of `entry.family` send `entry.port` to the listener (replacing an element already there). */
export function setRedirectCommands(entry: KernelRedirectEntry, replace: boolean): string {
  const map = `inet ${NAT_GUARD_TABLE} ${redirectMapName(entry.family)}`;
  const listener = `${entry.listener.address} . ${entry.listener.port}`;
  return `${replace ? `delete element ${map} { ${key(entry.port)} }\n` : ''}add element ${map} { ${key(entry.port)} : ${listener} }\n`;
}

/** The transaction removing the element of `family`/`port`. */
export function deleteRedirectCommands(family: 4 | 6, port: Port): string {
  return `delete element inet ${NAT_GUARD_TABLE} ${redirectMapName(family)} { ${key(port)} }\n`;
}

export interface KernelRedirectsOptions {
  readonly netns?: string;
  readonly run?: CommandRunner;
  readonly log?: LogFn;
}

export class KernelRedirects implements KernelRedirect {
  private readonly nft: NftCommands;
  /** Installed elements: `4/21`. */
  private readonly installed = new Set<string>();

  constructor(private readonly opts: KernelRedirectsOptions = {}) {
    this.nft = new NftCommands(opts, (message) => new KernelRedirectError(message));
  }

  set(entry: KernelRedirectEntry): Promise<void> {
    return this.nft.serial(async () => {
      const id = `${entry.family}/${entry.port}`;
      try {
        await this.nft.script(setRedirectCommands(entry, this.installed.has(id)));
      } catch (err) {
        this.opts.log?.('error', `nfqueue: the kernel refused the redirect of tcp port ${entry.port} (IPv${entry.family}); its connections pass uncaptured: ${String(err)}`);
        throw err;
      }
      this.installed.add(id);
    });
  }

  delete(family: 4 | 6, port: Port): Promise<void> {
    return this.nft.serial(async () => {
      const id = `${family}/${port}`;
      if (!this.installed.has(id)) return;
      this.installed.delete(id);
      try {
        await this.nft.script(deleteRedirectCommands(family, port));
      } catch (err) {
        this.opts.log?.('error', `nfqueue: removing the redirect of tcp port ${port} (IPv${family}): ${String(err)}`);
        throw err;
      }
    });
  }

  /** The table went (the driver closed or reinstalled it): nothing is installed. */
  forget(): void {
    this.installed.clear();
  }
}
