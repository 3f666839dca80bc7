// Ethernet II frames: destination MAC, source MAC, EtherType, payload (no FCS).

export const ETH_HEADER = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export interface EthernetFrame {
  dst: Uint8Array;
  src: Uint8Array;
  etherType: number;
  payload: Uint8Array;
}

/** Null for a frame too short to carry a header. */
export function parseEthernet(frame: Uint8Array): EthernetFrame | null {
  if (frame.length < ETH_HEADER) return null;
  return {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    etherType: (frame[12] << 8) | frame[13],
    payload: frame.subarray(ETH_HEADER),
  };
}

export function buildEthernet(dst: Uint8Array, src: Uint8Array, etherType: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HEADER + payload.length);
  f.set(dst.subarray(0, 6), 0);
  f.set(src.subarray(0, 6), 6);
  f[12] = etherType >> 8;
  f[13] = etherType & 0xff;
  f.set(payload, ETH_HEADER);
  return f;
}

export function macToString(mac: Uint8Array): string {
  return [...mac.subarray(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** "52:54:00:12:34:56" to bytes; null if malformed. */
export function parseMac(text: string): Uint8Array | null {
  const parts = text.split(":");
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return null;
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}
