// -netdev tap: a host TAP interface. Not supported yet: opening /dev/net/tun needs an
// ioctl (TUNSETIFF), which Node cannot issue without a native addon (FFI), and creating
// the interface needs root. Fails clearly instead of pretending.
import type { NetBackend } from "./net-backend.js";

export function createTapBackend(_options: Record<string, string>): NetBackend {
  throw new Error("-netdev tap: not supported yet (needs root and an ioctl Node cannot make without a native addon); use -netdev user or -netdev socket");
}
