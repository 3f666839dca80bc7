// The Internet checksum (RFC 1071): ones' complement sum of 16-bit big-endian words.
// IPv4 headers, ICMP, UDP and TCP all use it; UDP/TCP add a pseudo-header.

/** Adds bytes [start, end) to a running 32-bit sum (odd trailing byte padded with 0). */
export function sumBytes(buf: Uint8Array, start: number, end: number, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  return sum;
}

/** Folds a running sum to 16 bits and complements it. */
export function finish(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

export function checksum(buf: Uint8Array, start = 0, end = buf.length): number {
  return finish(sumBytes(buf, start, end));
}

/** Sum of the IPv4 pseudo-header for UDP/TCP: source, destination, protocol, length. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/** Checksum of a UDP/TCP segment stored in buf[start, end), pseudo-header included.
 *  A correct segment (checksum field filled) gives 0. */
export function transportChecksum(buf: Uint8Array, start: number, end: number, src: number, dst: number, protocol: number): number {
  return finish(sumBytes(buf, start, end, pseudoHeaderSum(src, dst, protocol, end - start)));
}
