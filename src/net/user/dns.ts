// The guest's DNS server 10.0.2.3 forwards queries, unchanged, to the host's resolver
// (the first IPv4 nameserver in /etc/resolv.conf, as QEMU's slirp does). Tests pass a
// local fake resolver instead so that no query leaves the machine.
import * as fs from "node:fs";

export interface DnsUpstream {
  address: string;
  port: number;
}

/** Parses resolv.conf text; null when it names no IPv4 nameserver. */
export function nameserverFromResolvConf(text: string): DnsUpstream | null {
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(line);
    if (m) return { address: m[1], port: 53 };
  }
  return null;
}

/** The host's resolver, or 127.0.0.1:53 when resolv.conf is missing or has none. */
export function hostDnsUpstream(file = "/etc/resolv.conf"): DnsUpstream {
  try {
    return nameserverFromResolvConf(fs.readFileSync(file, "utf8")) ?? { address: "127.0.0.1", port: 53 };
  } catch {
    return { address: "127.0.0.1", port: 53 };
  }
}
