// Big-endian field access on plain bytes. Written out instead of Buffer's
// readUInt16BE so that nothing here can throw a RangeError: callers check
// bounds against the packet, not against the buffer's guard rails.

/** The 16-bit big-endian value at `at`. */
export function readU16(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}

/** The 32-bit big-endian value at `at`, as a non-negative number. */
export function readU32(buf: Uint8Array, at: number): number {
  return buf[at]! * 0x1000000 + ((buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!);
}

/** Writes the low 16 bits of `value` big-endian at `at`. */
export function writeU16(buf: Uint8Array, at: number, value: number): void {
  buf[at] = (value >>> 8) & 0xff;
  buf[at + 1] = value & 0xff;
}
