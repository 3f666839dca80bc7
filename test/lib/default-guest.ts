// What every test that boots the project's default guest shares: the skip reason when
// it isn't built, generous timeouts (the interpreter shares the machine with builds),
// booting to the shell prompt, and a command runner that stops after the first hang.
import { GuestNotBuiltError, SHELL_PROMPT, guestPaths } from "../../guest/paths.js";
import { GuestSession } from "./guest-session.js";

export const BOOT_TIMEOUT_MS = 600_000;
export const COMMAND_TIMEOUT_MS = 120_000;
export const TEST_TIMEOUT_MS = 900_000;

/** A reason to skip (for node:test's `skip`), or false when the guest is built. */
export function guestSkipReason(): string | false {
  try {
    guestPaths();
    return false;
  } catch (err) {
    if (err instanceof GuestNotBuiltError) return `${err.message} (npm test builds it first)`;
    throw err;
  }
}

/** Boots `--default-guest` plus `args` to its shell prompt; closes the session on failure. */
export async function bootDefaultGuest(args: string[] = []): Promise<GuestSession> {
  const s = GuestSession.tsvisor(["--default-guest", ...args]);
  try {
    await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
  } catch (err) {
    s.close();
    throw err;
  }
  return s;
}

/**
 * Runs shell commands at the prompt and returns their output. After one command hangs,
 * the rest fail at once instead of each waiting out its timeout.
 */
export interface CommandRunner {
  (command: string): Promise<string>;
  /** Throws when an earlier command hung (for steps that type without run()). */
  checkAlive(): void;
}

export function commandRunner(s: GuestSession): CommandRunner {
  let hung: string | undefined;
  const checkAlive = () => {
    if (hung) throw new Error(`not run: the guest stopped answering at \`${hung}\``);
  };
  const run = async (command: string) => {
    checkAlive();
    try {
      return await s.command(command, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    } catch (err) {
      hung = command;
      throw err;
    }
  };
  return Object.assign(run, { checkAlive });
}
