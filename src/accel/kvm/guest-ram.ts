// Guest RAM for KVM: one anonymous private mapping that KVM maps into the guest (a memory
// slot at its host address) and TypeScript sees as an ArrayBuffer over the same bytes,
// so device models read and write guest memory directly. MAP_NORESERVE and the kernel's
// lazy allocation mean that only pages the guest (or a device) touches cost memory.
import { UserError } from "../../machine/machine.js";
import { MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE, errnoText, libc } from "./libc.js";

export interface GuestRam {
  /** The mapping's bytes (valid until free()). */
  readonly buffer: ArrayBuffer;
  /** The mapping's host virtual address, for KVM_SET_USER_MEMORY_REGION. */
  readonly hostAddress: bigint;
  /** Unmaps the memory; the buffer must not be used afterwards. */
  free(): void;
}

const PAGE = 4096;

export function allocateGuestRam(size: number): GuestRam {
  if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE !== 0) {
    throw new RangeError(`guest RAM size ${size} is not a positive multiple of ${PAGE}`);
  }
  const c = libc();
  const ptr = c.mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ptr === null) {
    throw new UserError(`cannot map ${size / 2 ** 20} MiB of guest RAM: ${errnoText(c.errno())}`);
  }
  const buffer = c.koffi.view(ptr, size);
  const hostAddress = c.koffi.address(ptr);
  let mapped = true;
  return {
    buffer,
    hostAddress,
    free() {
      if (!mapped) return;
      mapped = false;
      c.munmap(ptr, size);
    },
  };
}
