// -netdev TYPE,... to a backend: user (user-mode NAT), socket/stream (a TCP link to
// another emulator), tap (a host TAP interface, Linux). Each comes with `ready`: the
// listeners a backend opens (hostfwd=, listen=) bind asynchronously, and the CLI waits
// for them before starting the guest so that a port in use is fatal, as in QEMU.
import type { NetdevConfig } from "../machine/config.js";
import type { NetBackend } from "./net-backend.js";
import { parseHostPort, SocketNet } from "./socket-net.js";
import { createTapBackend } from "./tap.js";
import { UserNet } from "./user/user-net.js";

export interface NetBackendOptions {
  warn?: (message: string) => void;
}

/** Each backend made here -> its readiness, with errors naming the netdev. */
const readiness = new WeakMap<NetBackend, Promise<void>>();

/**
 * Resolves once the backend's listeners are bound; rejects with a one-line message
 * naming the netdev ("-netdev user,id=n0: could not set up host forwarding rule ...").
 * Backends not made by createNetBackend count as ready.
 */
export function netBackendReady(backend: NetBackend): Promise<void> {
  return readiness.get(backend) ?? Promise.resolve();
}

/** Throws an Error with a user-facing message for a netdev it cannot build. */
export function createNetBackend(netdev: NetdevConfig, opts: NetBackendOptions = {}): NetBackend {
  const o = netdev.options;
  const warn = heldUntilReady(opts.warn);
  let backend: NetBackend & { ready: Promise<void> };
  switch (netdev.type) {
    case "user":
      backend = new UserNet({ hostForwards: netdev.hostForwards, restrict: o.restrict === "on" || o.restrict === "yes", warn: warn.warn });
      break;
    case "tap":
      backend = createTapBackend(o, netdev.id, warn.warn);
      break;
    case "socket":
    case "stream":
      backend = new SocketNet({ ...socketEnds(netdev), warn: warn.warn });
      break;
  }
  const what = `-netdev ${netdev.type},id=${netdev.id}`;
  const ready = backend.ready.then(
    () => warn.settle(),
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      warn.settle(message);
      throw new Error(`${what}: ${tidySystemError(message.replace(/^-netdev [a-z]+(,[^:]*)?: /, ""))}`);
    },
  );
  ready.catch(() => {}); // handled by whoever awaits it; never an unhandled rejection
  readiness.set(backend, ready);
  return backend;
}

/** Node's "listen EADDRINUSE: address already in use 0.0.0.0:2222" as the C library
 *  says it ("Address already in use"), the way QEMU prints it. */
export function tidySystemError(message: string): string {
  const m = /(listen|bind) E[A-Z0-9]+: ([^,]+?)(?: (\S+:\d+))?$/.exec(message);
  if (!m) return message;
  const text = m[2].charAt(0).toUpperCase() + m[2].slice(1);
  // Alone (listen=): say what could not be bound; inside a hostfwd rule it is named already.
  return m.index === 0 && m[3] ? `could not listen on ${m[3]}: ${text}` : message.slice(0, m.index) + text;
}

/**
 * The backends report a failed listener both through `ready` and as a warning; the
 * warning is held until `ready` settles and dropped if it repeats the failure, so the
 * user sees the fatal line once.
 */
function heldUntilReady(warn?: (message: string) => void): { warn: (m: string) => void; settle: (failure?: string) => void } {
  let held: string[] | null = [];
  return {
    warn: (m) => (held ? held.push(m) : warn?.(m)),
    settle: (failure) => {
      const lines = held ?? [];
      held = null;
      for (const m of lines) if (failure === undefined || !m.includes(failure)) warn?.(m);
    },
  };
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
