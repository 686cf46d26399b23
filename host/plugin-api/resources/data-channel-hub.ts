import { ipFromBytes, port, type DataChannelEvent } from '@algd/sdk';
import type { Flow } from '../../nat-engine/flow';
import type { NatEngineEvents } from '../../nat-engine/nat-engine';
import type { FlowTranslation } from '../../nat-engine/translation/flow-translation';
import type { Mapping, MappingEndReason } from '../../nat-engine/translation/mapping';

/** The owner of data channels: told when the engine uses, ends and releases them. */
export interface DataChannelOwner {
  channelEvent(mapping: Mapping, event: DataChannelEvent): void;
  channelReleased(mapping: Mapping): void;
}

/**
 * Routes the engine's mapping notifications to the session that owns each
 * mapping. The engine is created with this hub as its event sink; sessions
 * register their channels as they create them.
 */
export class DataChannelHub implements NatEngineEvents {
  private readonly owners = new Map<number, DataChannelOwner>();

  register(mapping: Mapping, owner: DataChannelOwner): void {
    this.owners.set(mapping.id, owner);
  }

  /** Mappings with a registered owner (active, or ended with connections alive). */
  get size(): number {
    return this.owners.size;
  }

  mappingUsed(mapping: Mapping, flow: Flow<FlowTranslation>): void {
    // The peer is the remote side: the connection's source when it came in, its destination when it went out.
    const inbound = flow.data.kind === 'mapping' && flow.data.original.dst !== undefined;
    const peer = inbound
      ? { address: ipFromBytes(flow.original.srcAddr), port: port(flow.original.srcPort) }
      : { address: ipFromBytes(flow.original.dstAddr), port: port(flow.original.dstPort) };
    this.owners.get(mapping.id)?.channelEvent(mapping, { kind: 'used', channel: mapping.id, peer });
  }

  mappingEnded(mapping: Mapping, reason: MappingEndReason): void {
    this.owners.get(mapping.id)?.channelEvent(mapping, { kind: 'ended', channel: mapping.id, reason });
  }

  mappingReleased(mapping: Mapping): void {
    const owner = this.owners.get(mapping.id);
    this.owners.delete(mapping.id);
    owner?.channelReleased(mapping);
  }
}
