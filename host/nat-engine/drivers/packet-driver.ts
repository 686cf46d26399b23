import type { ProcessOutcome } from '../engine-counters';
import type { PacketMeta } from '../packet-meta';
import type { CaptureSpec } from './capture-spec';
import type { FlowOffload } from './flow-offload';
import type { KernelRedirect } from './kernel-redirect';

/** The engine as a driver sees it: one call per packet, rewriting in place. */
export interface PacketProcessor {
  process(buf: Buffer, meta: PacketMeta, offset?: number, length?: number): ProcessOutcome;
  /**
   * After `process` returned `translated` for a `prerouting` packet: true
   * when the packet is fully translated (nothing of it is rewritten after
   * routing), so a driver that would show it again at `postrouting` may
   * let it pass there unseen. Absent means false.
   */
  readonly lastTranslationComplete?: boolean;
  /**
   * After `process` returned `pass` for a `prerouting` packet: true when it
   * is the SYN of a captured TCP connection that the driver's kernel
   * redirect is to carry (see kernel-redirect.ts); the driver tells its
   * kernel so with the packet (a mark). Absent means false.
   */
  readonly lastKernelRedirect?: boolean;
  /**
   * A driver with a kernel redirect hands it over before it captures
   * anything (resolves once every TCP redirect already in place is
   * installed in the kernel), and `undefined` when it closes. From then on
   * TCP redirects are the kernel's and the driver queues only their SYNs.
   */
  useKernelRedirect?(redirect: KernelRedirect | undefined): Promise<void>;
}

/** Counters every driver keeps, for status. */
export interface DriverStats {
  readonly received: number;
  readonly accepted: number;
  readonly dropped: number;
  readonly modified: number;
  readonly errors: number;
}

/**
 * What a driver needs from the host's control-channel listeners so that
 * the redirected connections reach them (the engine's redirect sends a
 * connection to whatever endpoint the host gives it).
 */
export interface ListenerPlacement {
  /**
   * Where the IPv4 listener binds: `loopback` (127.0.0.1; the driver makes
   * the kernel route redirected packets there, Linux's route_localnet) or
   * `adapter` (the private adapter's address: WinDivert, since Windows never
   * routes a remote packet to 127.0.0.1). IPv6 listeners always bind the
   * private adapter's address.
   */
  readonly ipv4: 'loopback' | 'adapter';
  /**
   * The host's own upstream TCP connections must leave from a port of
   * listenerPorts: a driver with a static filter (WinDivert) tells them from
   * clients' connections to the same control port by that.
   */
  readonly upstreamFromListenerPorts: boolean;
  /**
   * An inbound data channel to a private host must show the gateway as the
   * host's peer (the gateway's private address and a mapping port), so that
   * the host's replies come back to the gateway where the driver captures
   * them by mapping port: a driver working after the OS's own NAT (WinDivert
   * on ICS) cannot capture a client's replies from its own data port.
   * Default false.
   */
  readonly inboundChannelsFromGateway?: boolean;
}

/**
 * A packet driver moves raw IP packets between the OS and the engine and
 * installs the capture filter. It holds no translation logic: it asks the
 * processor about every captured packet, forwards what comes back
 * (rewritten in place when `translated`) and drops what the processor drops.
 */
export interface PacketDriver {
  /** The configuration name of the driver. */
  readonly name: string;
  /** What the driver needs from the host's listeners. */
  readonly listenerPlacement: ListenerPlacement;
  /**
   * Installs the capture for `spec` (removing stale state a crashed run left)
   * and starts handing packets to `processor`. On failure nothing stays
   * installed.
   */
  open(spec: CaptureSpec, processor: PacketProcessor): Promise<void>;
  /** Stops capturing and removes everything the driver installed. Idempotent. */
  close(): Promise<void>;
  readonly stats: DriverStats;
  /**
   * The driver's kernel fast path for established flows, once open, when
   * it has one and it is enabled (see flow-offload.ts); undefined otherwise.
   */
  readonly offload?: FlowOffload | undefined;
}
