import { formatPortRange, type PortRange } from './port-range';
import { describeRequest, type ReserveOptions } from './reserve-options';

/** No ports satisfying a request are free in a pool. */
export class PortPoolExhaustedError extends Error {
  override readonly name = 'PortPoolExhaustedError';

  constructor(
    readonly range: PortRange,
    readonly request: Readonly<ReserveOptions>,
    /** Ports of the range the pool had not handed out at the time (some may be in use by the OS). */
    readonly available: number,
  ) {
    const size = range.to - range.from + 1;
    super(
      `port pool ${formatPortRange(range)} cannot provide ${describeRequest(request)}: ` +
        `${size - available} of ${size} ports reserved, the others in use by the OS or not fitting the request`,
    );
  }
}
