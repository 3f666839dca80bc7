// A running machine as the command line (or an embedding program) sees it, and what the
// host lends it. Boards implement Machine; src/cli and embedders implement MachineHost.
import type { BlockBackend } from "../block/block-backend.js";
import type { NetBackend } from "../net/net-backend.js";
import type { DriveConfig, MachineConfig, NetdevConfig } from "./config.js";

/** Bad user input (a flag, a file): one line for the user, exit status 1. */
export class UserError extends Error {
  override readonly name = "UserError";
}

export interface MachineHost {
  /** Reads a whole file; throws UserError naming the file when it cannot. */
  readFile(path: string): Uint8Array;
  /** Writes a file (dumpdtb). */
  writeFile(path: string, data: Uint8Array): void;
  /** Bytes the guest's console (UART0 / HTIF console) sends to the user. */
  consoleWrite(data: Uint8Array): void;
  /** Registers the sink for bytes the user types into the console. */
  onConsoleInput(handler: (data: Uint8Array) => void): void;
  /** -d trace sink; undefined when tracing is off. */
  trace?: (line: string) => void;
  /** Wall clock in nanoseconds since the Unix epoch (RTC). */
  wallClockNs(): bigint;
  /** Monotonic clock in nanoseconds (timers). */
  monotonicNs(): number;
  /** Fills `buf` from the host's cryptographic random source (virtio-rng); default crypto.getRandomValues. */
  randomBytes?(buf: Uint8Array): void;
  /**
   * Opens a -drive's image (once per machine: a guest reset keeps it open). Throws
   * UserError naming the file. Hosts without one refuse -drive.
   */
  openDrive?(drive: DriveConfig): BlockBackend;
  /** Creates a -netdev's backend (once per machine). Hosts without one refuse -netdev. */
  createNetBackend?(netdev: NetdevConfig): NetBackend;
  /**
   * Loads what openDrive and createNetBackend need for this configuration, before the
   * board opens its drives and netdevs (NodeHost loads the block layer and the network
   * stack only when they are used).
   */
  prepare?(config: MachineConfig): Promise<void>;
  /** A warning for the user (standard error): device errors a guest caused, and the like. */
  warn?(message: string): void;
}

export interface Machine {
  /** Runs until the guest powers off (or the user quits); resolves to the exit status. */
  run(): Promise<number>;
  /** Asks the machine to stop (Ctrl-A X); run() then resolves with `code`. */
  stop(code: number): void;
  /** Guest instructions retired so far, all harts (benchmarks, tests). */
  instructionsRetired(): number;
  /** One line on the CPU engine's work (the translator's share, compile time), if any. */
  engineReport?(): string | undefined;
}
