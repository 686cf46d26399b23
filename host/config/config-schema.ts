import { isIP } from 'node:net';
import { z } from 'zod';
import type { LoggingSettings } from '../logging/logging-settings';
import type { MetricsSettings } from '../metrics/metrics-settings';

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

/** When a plugin task fails (throws, times out, runs out of memory, kills its worker). */
export const FAILURE_POLICIES = ['close', 'passthrough'] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];

/** The circuit breaker that disables a plugin that keeps failing. */
const breakerSettings = z.strictObject({
  /** Failures within `windowMs` that disable the plugin. */
  threshold: z.number().int().min(1).max(10_000).default(5),
  windowMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
  /** How long the plugin stays disabled before it is tried again (doubling, up to 8x, while it keeps failing). */
  cooldownMs: z.number().int().min(1_000).max(86_400_000).default(30_000),
});

/** Per-plugin settings (built-in and discovered plugins alike). */
export const pluginSettingsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Capture ports replacing the plugin's defaults, per transport (e.g. FTP on 21 and 2121). */
  ports: z.strictObject({ tcp: z.array(portNumber).min(1).optional(), udp: z.array(portNumber).min(1).optional() }).optional(),
  /** The plugin's own options, checked by the plugin's parser when it loads. */
  options: z.unknown().optional(),
  /** What happens to a session whose plugin task failed: `close` it, or `passthrough` its bytes unchanged from then on. */
  onFailure: z.enum(FAILURE_POLICIES).default('close'),
  /** Time budget of one plugin task; a task over it is cancelled (its worker is replaced) and counts as a failure. */
  taskTimeoutMs: z.number().int().min(10).max(60_000).default(2_000),
  /** Old-generation heap limit of each worker of the plugin. */
  maxMemoryMb: z.number().int().min(16).max(4_096).default(64),
  /** Worker threads of the plugin's pool; default min(4, CPUs). */
  maxThreads: z.number().int().min(1).max(64).optional(),
  /** Data channels one session may hold at a time. */
  maxDataChannelsPerSession: z.number().int().min(0).max(1_024).default(16),
  breaker: breakerSettings.default({ threshold: 5, windowMs: 60_000, cooldownMs: 30_000 }),
});
export type PluginSettings = z.output<typeof pluginSettingsSchema>;

/** Control sessions (a captured connection, or a UDP client's exchange with one server). */
const sessionSettings = z.strictObject({
  /** A TCP control session with no traffic this long is closed, unless one of its data channels is alive. */
  tcpIdleTimeoutMs: z.number().int().min(1_000).default(7_200_000),
  /** The same for UDP (datagram relay) sessions. */
  udpIdleTimeoutMs: z.number().int().min(1_000).default(120_000),
  /** TCP keepalive interval on both legs while a data channel of the session lives. */
  keepaliveMs: z.number().int().min(1_000).max(7_200_000).default(60_000),
  /** Sessions the host holds at once; further connections are refused and counted. */
  maxSessions: z.number().int().min(1).max(1_000_000).default(20_000),
});

/** Options of the Linux NFQUEUE driver. */
const nfqueueOptions = z.strictObject({
  /** First netfilter queue number algd uses. */
  queueNum: z.number().int().min(0).max(65535).default(4200),
  /** Packets the kernel holds for algd before it applies the fail policy. */
  maxLen: z.number().int().min(16).max(1_048_576).default(4096),
  /** When algd is not reading (overflow, crash): `true` lets captured traffic through untranslated, `false` drops it. */
  failOpen: z.boolean().default(true),
  /**
   * The kernel fast path: a data channel's established TCP connection that
   * has carried `minBytes` of payload is translated by the kernel from
   * then on (nftables rules per connection), not in algd.
   */
  offload: z
    .strictObject({
      enabled: z.boolean().default(true),
      minBytes: z.number().int().min(0).max(2 ** 40).default(1_048_576),
    })
    .default({ enabled: true, minBytes: 1_048_576 }),
  /**
   * TCP control connections are redirected to their listeners by the
   * kernel's NAT: algd sees a connection's SYN, decides, and marks it; no
   * later packet of it crosses to userland. `false`: algd translates every
   * packet of them itself.
   */
  kernelRedirect: z.boolean().default(true),
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

const seconds = z.number().int().min(1).max(1_000_000);

/** Idle timeouts of the engine's flows, in seconds, per state (defaults follow Linux conntrack; see host/nat-engine/flow/timeouts.ts). */
const flowTimeouts = z.strictObject({
  tcpSynSent: seconds.optional(),
  tcpSynRecv: seconds.optional(),
  tcpEstablished: seconds.optional(),
  tcpFinWait: seconds.optional(),
  tcpCloseWait: seconds.optional(),
  tcpLastAck: seconds.optional(),
  tcpTimeWait: seconds.optional(),
  tcpClose: seconds.optional(),
  udpUnreplied: seconds.optional(),
  udpReplied: seconds.optional(),
  other: seconds.optional(),
});

/**
 * A server behind the gateway published on the gateway's public addresses:
 * connections from the public side to `port` on a gateway address go
 * through the plugin capturing that port to `server` (the gateway forwards
 * them itself; no port forward of the kernel is needed for them).
 */
const publishedServer = z.strictObject({
  protocol: z.enum(['tcp', 'udp']),
  port: portNumber,
  server: ipText,
  /** The server's port; default `port`. */
  serverPort: portNumber.optional(),
});

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where and how the service logs. `level` has no default here: the old top-level `logLevel` may supply it (see the transform below). */
const loggingSettings = z.strictObject({
  level: z.enum(LOG_LEVELS).optional(),
  /** `auto`: text lines on a terminal, JSON lines otherwise (journald, pipes). */
  console: z.strictObject({ format: z.enum(['auto', 'text', 'json']).default('auto') }).default({ format: 'auto' }),
  /** JSON lines to a file, rotated at `maxSizeMb`, `maxFiles` kept. */
  file: z
    .strictObject({
      path: z.string().min(1),
      maxSizeMb: z.number().int().min(1).max(10_240).default(10),
      maxFiles: z.number().int().min(1).max(1_000).default(5),
    })
    .optional(),
  /** The Windows Event Log (ignored with a warning elsewhere). */
  eventLog: z.strictObject({ source: z.string().min(1).max(256).default('algd') }).optional(),
});

/** The Prometheus text endpoint (`/metrics`). Loopback only: metrics describe the gateway's traffic. */
const metricsSettings = z.strictObject({
  address: z.enum(['127.0.0.1', '::1']).default('127.0.0.1'),
  port: portNumber,
});

export const DRIVERS = ['nfqueue', 'windivert', 'memory'] as const;
export type DriverName = (typeof DRIVERS)[number];

export const configSchema = z
  .strictObject({
    /** Packet driver: `nfqueue` (Linux), `windivert` (Windows) or `memory` (in-process, tests). */
    driver: z.enum(DRIVERS),
    nfqueue: nfqueueOptions.default({ queueNum: 4200, maxLen: 4096, failOpen: true, offload: { enabled: true, minBytes: 1_048_576 }, kernelRedirect: true }),
    windivert: windivertOptions.default({ priority: 0, queueLength: 4096, queueTimeMs: 2000 }),
    adapters: z.array(adapter).min(1),
    /** Loopback listener ports for redirected control connections. */
    listenerPorts: portRange.default({ from: 3000, to: 5000 }),
    /** Public ports the gateway hands out for data-channel mappings. */
    mappingPorts: portRange.default({ from: 61000, to: 64999 }),
    plugins: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'plugin names are lower-case words'), pluginSettingsSchema).default({}),
    /** Servers behind the gateway whose control connections are published on its public addresses. */
    publish: z.array(publishedServer).default([]),
    /** A folder of third-party plugin packages (npm packages with the keyword `algd-plugin` and an `algd` manifest). */
    pluginsDir: z.string().min(1).optional(),
    flowTimeouts: flowTimeouts.default({}),
    sessions: sessionSettings.default({ tcpIdleTimeoutMs: 7_200_000, udpIdleTimeoutMs: 120_000, keepaliveMs: 60_000, maxSessions: 20_000 }),
    /** Unix socket (Linux) or named pipe (Windows) of the admin API. */
    adminSocket: z.string().min(1),
    /** Old spelling of `logging.level`, still accepted; `logging.level` wins. */
    logLevel: z.enum(LOG_LEVELS).optional(),
    logging: loggingSettings.default({ console: { format: 'auto' } }),
    /** Absent: no metrics endpoint. */
    metrics: metricsSettings.optional(),
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
    const metricsPort = cfg.metrics?.port;
    if (metricsPort !== undefined && ((metricsPort >= l.from && metricsPort <= l.to) || (metricsPort >= m.from && metricsPort <= m.to))) {
      ctx.addIssue({ code: 'custom', path: ['metrics', 'port'], message: `inside ${metricsPort >= l.from && metricsPort <= l.to ? 'listenerPorts' : 'mappingPorts'}, which algd hands out` });
    }
  })
  // One resolved log level, whichever spelling gave it.
  .transform(({ logLevel, ...cfg }) => ({ ...cfg, logging: { ...cfg.logging, level: cfg.logging.level ?? logLevel ?? ('info' as const) } }));

/** A validated configuration with every default filled in. */
export type AlgdConfig = z.output<typeof configSchema>;
/** What a configuration file may contain (defaults optional). */
export type AlgdConfigInput = z.input<typeof configSchema>;

/** `T`, checked to be assignable to `U` at compile time. */
type Satisfies<T extends U, U> = T;
/** The resolved logging section is what the logger takes; the metrics section what the metrics endpoint takes. */
export type LoggingConfig = Satisfies<AlgdConfig['logging'], LoggingSettings>;
export type MetricsConfig = Satisfies<NonNullable<AlgdConfig['metrics']>, MetricsSettings>;
