import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * The algd configuration file (JSON). The schema is the reference: the
 * README's configuration section documents the same keys. Unknown keys are
 * errors, so a typo never silently falls back to a default.
 */

const portNumber = z.number().int().min(1).max(65535);

/** An inclusive port range, `from` <= `to`. */
const portRange = z
  .strictObject({ from: portNumber, to: portNumber })
  .refine((r) => r.from <= r.to, { message: '"from" must not be greater than "to"' });

/**
 * Adapter roles, as in the Windows ALG API: `private` faces the internal
 * clients, `boundary` faces the internet (the NAT's public side),
 * `firewalled` is a public adapter that denies unsolicited inbound traffic
 * (algd opens pinholes on it for announced data channels).
 */
export const ADAPTER_TYPES = ['private', 'boundary', 'firewalled'] as const;
export type AdapterType = (typeof ADAPTER_TYPES)[number];

const ipText = z.string().refine((s) => isIP(s) !== 0, { message: 'not an IP address' });

const adapter = z.strictObject({
  /** The OS interface name (`eth0`) or, on Windows, the adapter's friendly name. */
  name: z.string().min(1).max(256),
  type: z.enum(ADAPTER_TYPES),
  /** Addresses of the adapter; discovered from the OS when omitted. */
  addresses: z.array(ipText).min(1).optional(),
});

/** Per-plugin settings; plugins add their own keys in later versions of this schema. */
const pluginSettings = z.looseObject({
  enabled: z.boolean().default(true),
});

/** Options of the Linux NFQUEUE driver. */
const nfqueueOptions = z.strictObject({
  /** First netfilter queue number algd uses. */
  queueNum: z.number().int().min(0).max(65535).default(4200),
  /** Packets the kernel holds for algd before it applies the fail policy. */
  maxLen: z.number().int().min(16).max(1_048_576).default(4096),
  /** When algd is not reading (overflow, crash): `true` lets captured traffic through untranslated, `false` drops it. */
  failOpen: z.boolean().default(true),
});

/** Options of the Windows WinDivert driver. */
const windivertOptions = z.strictObject({
  /** Folder holding WinDivert.dll and WinDivert64.sys; default: next to algd. */
  path: z.string().min(1).optional(),
  /** WinDivert filter priority (-30000..30000); other WinDivert users with a higher priority see packets first. */
  priority: z.number().int().min(-30000).max(30000).default(0),
  /** WinDivert packet queue length and time (WINDIVERT_PARAM_QUEUE_LENGTH / _TIME). */
  queueLength: z.number().int().min(32).max(16384).default(4096),
  queueTimeMs: z.number().int().min(100).max(16000).default(2000),
});

export const DRIVERS = ['nfqueue', 'windivert', 'memory'] as const;
export type DriverName = (typeof DRIVERS)[number];

export const configSchema = z
  .strictObject({
    /** Packet driver: `nfqueue` (Linux), `windivert` (Windows) or `memory` (in-process, tests). */
    driver: z.enum(DRIVERS),
    nfqueue: nfqueueOptions.default({ queueNum: 4200, maxLen: 4096, failOpen: true }),
    windivert: windivertOptions.default({ priority: 0, queueLength: 4096, queueTimeMs: 2000 }),
    adapters: z.array(adapter).min(1),
    /** Loopback listener ports for redirected control connections. */
    listenerPorts: portRange.default({ from: 3000, to: 5000 }),
    /** Public ports the gateway hands out for data-channel mappings. */
    mappingPorts: portRange.default({ from: 61000, to: 64999 }),
    plugins: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'plugin names are lower-case words'), pluginSettings).default({}),
    /** Unix socket (Linux) or named pipe (Windows) of the admin API. */
    adminSocket: z.string().min(1),
    logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.adapters.forEach((a, i) => {
      const first = seen.get(a.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['adapters', i, 'name'], message: `duplicate adapter "${a.name}" (also adapters[${first}])` });
      }
      seen.set(a.name, i);
    });
    if (!cfg.adapters.some((a) => a.type === 'private')) {
      ctx.addIssue({ code: 'custom', path: ['adapters'], message: 'at least one adapter of type "private" is required' });
    }
    if (!cfg.adapters.some((a) => a.type !== 'private')) {
      ctx.addIssue({ code: 'custom', path: ['adapters'], message: 'at least one adapter of type "boundary" or "firewalled" is required' });
    }
    const l = cfg.listenerPorts;
    const m = cfg.mappingPorts;
    if (l.from <= m.to && m.from <= l.to) {
      ctx.addIssue({ code: 'custom', path: ['mappingPorts'], message: `overlaps listenerPorts ${l.from}-${l.to}` });
    }
  });

/** A validated configuration with every default filled in. */
export type AlgdConfig = z.output<typeof configSchema>;
/** What a configuration file may contain (defaults optional). */
export type AlgdConfigInput = z.input<typeof configSchema>;
