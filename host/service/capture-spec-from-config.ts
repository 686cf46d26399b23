import ftp from '@algd/plugin-ftp';
import rtsp from '@algd/plugin-rtsp';
import sip from '@algd/plugin-sip';
import type { ControlChannelSpec } from '@algd/sdk';
import type { AlgdConfig } from '../config/config-schema';
import type { CaptureSpec } from '../nat-engine/drivers/capture-spec';

/** The control channels of the built-in plugins, by plugin name. */
const BUILTIN_CONTROL_CHANNELS: Readonly<Record<string, readonly ControlChannelSpec[]>> = { ftp: ftp.controlChannels, sip: sip.controlChannels, rtsp: rtsp.controlChannels };

/** What the driver must capture for this configuration: the control ports of enabled plugins, listener and mapping ranges. */
export function captureSpecFromConfig(config: AlgdConfig): CaptureSpec {
  const controlPorts = Object.entries(BUILTIN_CONTROL_CHANNELS)
    .filter(([name]) => config.plugins[name]?.enabled ?? true)
    .flatMap(([, channels]) => channels.flatMap((c) => c.ports.map((port) => ({ protocol: c.protocol, port }))));
  return {
    adapters: config.adapters.map((a) => ({ name: a.name, side: a.type === 'private' ? 'private' : 'public' })),
    controlPorts,
    listenerPorts: config.listenerPorts,
    mappingPorts: config.mappingPorts,
    families: [4, 6],
  };
}
