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

export const DRIVERS = ['nfqueue', 'windivert', 'memory'] as const;
export type DriverName = (typeof DRIVERS)[number];

export const configSchema = z
  .strictObject({
    /** Packet driver: `nfqueue` (Linux), `windivert` (Windows) or `memory` (in-process, tests). */
    driver: z.enum(DRIVERS),
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
