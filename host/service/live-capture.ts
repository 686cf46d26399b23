import type { CaptureSpec } from '../nat-engine/drivers/capture-spec';
import type { PacketDriver } from '../nat-engine/drivers/packet-driver';

/**
 * A driver that can change what it captures while it runs (a reload
 * re-porting or enabling a plugin). Drivers without it keep the capture they
 * were opened with until a restart.
 */
export interface LiveCapture {
  updateCapture(spec: CaptureSpec): Promise<void>;
}

export function hasLiveCapture(driver: PacketDriver): driver is PacketDriver & LiveCapture {
  return typeof (driver as Partial<LiveCapture>).updateCapture === 'function';
}
