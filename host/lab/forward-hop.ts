/**
 * What a router does to a packet it forwards, besides NAT: TTL (IPv4) or
 * hop limit (IPv6) minus one, and for IPv4 a new header checksum, computed
 * here from scratch, independently of the engine's checksum code.
 */
export function forwardHop(packet: Buffer): void {
  if (packet[0]! >> 4 === 6) {
    packet[7]!--;
    return;
  }
  packet[8]!--;
  const headerLength = (packet[0]! & 0x0f) * 4;
  packet.writeUInt16BE(0, 10);
  let sum = 0;
  for (let i = 0; i < headerLength; i += 2) sum += packet.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  packet.writeUInt16BE(~sum & 0xffff, 10);
}
