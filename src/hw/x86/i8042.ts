// Intel 8042 keyboard controller, the little of it a keyboard-less microvm needs: the
// status register answers (so Linux's probes and `reboot=k`'s kb_wait() never spin on a
// busy controller), the few controller commands Linux's i8042 driver sends while probing
// get their replies at once (no 500 ms self-test timeout at boot), and command 0xFE
// pulses the CPU reset line: the PC's classic reboot. No keyboard or mouse is attached;
// bytes for them are dropped, so nothing ever raises IRQ 1 or 12.
import type { AccessSize, MmioDevice } from "../device.js";

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;

// Offsets in the device's port range [0x60, 0x65).
const DATA = 0x0;
const STATUS_COMMAND = 0x4;
export const I8042_PORT_COUNT = 5;

// Status register.
const STATUS_OBF = 0x01; // output buffer full: a byte waits in DATA
const STATUS_SYS = 0x04; // system flag: the self test passed
const STATUS_CMD = 0x08; // the last byte written went to the command port

// Controller commands (written to port 0x64).
export const CMD_READ_CTR = 0x20;
export const CMD_WRITE_CTR = 0x60;
export const CMD_DISABLE_AUX = 0xa7;
export const CMD_ENABLE_AUX = 0xa8;
export const CMD_TEST_AUX = 0xa9;
export const CMD_SELF_TEST = 0xaa;
export const CMD_TEST_KBD = 0xab;
export const CMD_DISABLE_KBD = 0xad;
export const CMD_ENABLE_KBD = 0xae;
export const CMD_WRITE_KBD_OUTBUF = 0xd2;
export const CMD_WRITE_AUX_OUTBUF = 0xd3;
export const CMD_RESET_CPU = 0xfe;

const SELF_TEST_OK = 0x55;
const PORT_TEST_OK = 0x00;
// Controller configuration byte (CTR).
const CTR_KBD_DISABLED = 0x10;
const CTR_AUX_DISABLED = 0x20;
const CTR_SYS = 0x04;
const CTR_RESET = CTR_SYS | CTR_KBD_DISABLED | CTR_AUX_DISABLED;

export class I8042 implements MmioDevice {
  readonly size = I8042_PORT_COUNT;

  private ctr = CTR_RESET;
  private status = STATUS_SYS;
  /** The one byte the controller can hold for the host: a reply. */
  private output: number | undefined;
  /** A command that takes its argument through the data port (0x60, 0xd2, 0xd3). */
  private pending: number | undefined;

  /** `reset` pulses the CPU reset line (the machine restarts, or ends under -no-reboot). */
  constructor(private readonly reset: () => void) {}

  read(offset: number, _size: AccessSize): number {
    if (offset === DATA) return this.readData();
    if (offset === STATUS_COMMAND) return this.status | (this.output !== undefined ? STATUS_OBF : 0);
    return 0xff;
  }

  write(offset: number, value: number, _size: AccessSize): void {
    if (offset === DATA) this.writeData(value & 0xff);
    else if (offset === STATUS_COMMAND) this.command(value & 0xff);
  }

  private readData(): number {
    const byte = this.output ?? 0;
    this.output = undefined;
    return byte;
  }

  private writeData(byte: number): void {
    this.status &= ~STATUS_CMD;
    const cmd = this.pending;
    this.pending = undefined;
    if (cmd === CMD_WRITE_CTR) this.ctr = byte;
    else if (cmd === CMD_WRITE_KBD_OUTBUF || cmd === CMD_WRITE_AUX_OUTBUF) this.output = byte; // loopback
    // Otherwise the byte is for the keyboard, and there is none.
  }

  private command(cmd: number): void {
    this.status |= STATUS_CMD;
    this.pending = undefined;
    switch (cmd) {
      case CMD_READ_CTR: this.output = this.ctr; break;
      case CMD_WRITE_CTR:
      case CMD_WRITE_KBD_OUTBUF:
      case CMD_WRITE_AUX_OUTBUF: this.pending = cmd; break;
      case CMD_SELF_TEST: this.output = SELF_TEST_OK; break;
      case CMD_TEST_KBD:
      case CMD_TEST_AUX: this.output = PORT_TEST_OK; break;
      case CMD_DISABLE_KBD: this.ctr |= CTR_KBD_DISABLED; break;
      case CMD_ENABLE_KBD: this.ctr &= ~CTR_KBD_DISABLED; break;
      case CMD_DISABLE_AUX: this.ctr |= CTR_AUX_DISABLED; break;
      case CMD_ENABLE_AUX: this.ctr &= ~CTR_AUX_DISABLED; break;
      case CMD_RESET_CPU: this.reset(); break;
      default: break; // unknown commands are ignored, as a real controller does
    }
  }
}
