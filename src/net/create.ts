// -netdev TYPE,... to a backend: user (user-mode NAT), socket/stream (a TCP link to
// another emulator), tap (not yet).
import type { NetdevConfig } from "../machine/config.js";
import type { NetBackend } from "./net-backend.js";
import { parseHostPort, SocketNet } from "./socket-net.js";
import { createTapBackend } from "./tap.js";
import { UserNet } from "./user/user-net.js";

export interface NetBackendOptions {
  warn?: (message: string) => void;
}

/** Throws an Error with a user-facing message for a netdev it cannot build. */
export function createNetBackend(netdev: NetdevConfig, opts: NetBackendOptions = {}): NetBackend {
  const o = netdev.options;
  switch (netdev.type) {
    case "user":
      return new UserNet({ hostForwards: netdev.hostForwards, restrict: o.restrict === "on" || o.restrict === "yes", warn: opts.warn });
    case "tap":
      return createTapBackend(o);
    case "socket":
    case "stream":
      return new SocketNet({ ...socketEnds(netdev), warn: opts.warn });
  }
}

/** socket: listen=/connect=; stream: server=on|off with addr.host/addr.port. */
function socketEnds(netdev: NetdevConfig): { listen?: { host: string; port: number }; connect?: { host: string; port: number } } {
  const o = netdev.options;
  const what = `-netdev ${netdev.type},id=${netdev.id}`;
  if (netdev.type === "stream" && o["addr.port"] !== undefined) {
    const ep = parseHostPort(`${o["addr.host"] ?? ""}:${o["addr.port"]}`);
    if (!ep) throw new Error(`${what}: bad addr.port '${o["addr.port"]}'`);
    const server = o.server === "on" || o.server === "yes" || o.server === "true";
    if (!server && !ep.host) throw new Error(`${what}: addr.host is needed with server=off`);
    return server ? { listen: ep } : { connect: ep };
  }
  if (o.listen !== undefined) {
    const ep = parseHostPort(o.listen);
    if (!ep) throw new Error(`${what}: bad listen='${o.listen}'`);
    return { listen: ep };
  }
  if (o.connect !== undefined) {
    const ep = parseHostPort(o.connect);
    if (!ep || !ep.host) throw new Error(`${what}: bad connect='${o.connect}' (host:port)`);
    return { connect: ep };
  }
  throw new Error(`${what}: needs listen=[host]:port or connect=host:port`);
}
