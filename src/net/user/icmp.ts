// ICMP (RFC 792): the gateway answers echo requests to its own addresses.
import { checksum } from "./checksum.js";

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;

/** The echo reply for an echo request (identifier, sequence and data kept); null otherwise. */
export function echoReply(request: Uint8Array): Uint8Array | null {
  if (request.length < 8 || request[0] !== ICMP_ECHO_REQUEST || request[1] !== 0) return null;
  if (checksum(request) !== 0) return null;
  const r = request.slice();
  r[0] = ICMP_ECHO_REPLY;
  r[2] = r[3] = 0;
  const c = checksum(r);
  r[2] = c >> 8;
  r[3] = c & 0xff;
  return r;
}
