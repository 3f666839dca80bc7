// `tsvisor --help`: a short manual page. Options are named and grouped as in QEMU's
// own manual so that QEMU users find them where they expect.
import { ESCAPE_HELP } from "../host/terminal.js";

export function helpText(version: string): string {
  return `NAME
    tsvisor ${version} - a machine emulator in TypeScript with QEMU's command line

SYNOPSIS
    tsvisor [options]
    tsvisor --default-guest [options]

DESCRIPTION
    tsvisor emulates a RISC-V RV64GC computer in software and boots unmodified
    firmware (OpenSBI, U-Boot) and Linux kernels on it. Its options are QEMU's:
    a command line that works with qemu-system-riscv64 for the options below
    works here, and every option may be written with one dash or two.

    The guest's serial console is this terminal. tsvisor exits with the guest:
    a guest power-off ends it with status 0.

STANDARD OPTIONS
    -h, -help           print this help and exit
    -version            print the version and exit
    -M, -machine TYPE[,dumpdtb=FILE]
                        board to emulate: virt (default) or spike; -M help lists
                        them. dumpdtb=FILE writes the board's device tree blob
                        to FILE and exits; -machine dumpdtb=FILE keeps the board
    -m [size=]SIZE      guest RAM (default 128M); a number with an optional
                        suffix K, M, G or T; a bare number means MiB
    -smp [cpus=]N       number of CPUs; only 1 is supported for now
    -accel tcg[,thread=single]
                        accelerator; tcg (software) is the only one for RISC-V
    --default-guest     boot the project's own Linux guest (built by npm run
                        guest), as -M virt -m 256M -nographic -bios default
                        -kernel IMAGE -initrd INITRAMFS -append CMDLINE;
                        options after it override those

BOOT OPTIONS
    -bios default|none|FILE
                        M-mode firmware: default is OpenSBI (fw_dynamic); none
                        starts the -kernel ELF directly in M-mode
    -kernel FILE        kernel, U-Boot or bare-metal program (ELF or raw Image)
    -initrd FILE        initial ramdisk, passed to Linux through the device tree
    -append CMDLINE     kernel command line (/chosen/bootargs)
    -dtb FILE           use this device tree blob instead of the generated one
    -no-reboot          exit instead of restarting when the guest reboots

DISPLAY AND CONSOLE OPTIONS
    -nographic          no graphical display (there is none anyway); the serial
                        console and the escapes below share this terminal
    -display none       accepted; there is no display
    -serial mon:stdio|stdio|none
                        where the guest's UART0 goes. mon:stdio (the default)
                        enables the Ctrl-A escapes and passes Ctrl-C to the
                        guest; stdio leaves Ctrl-C to stop tsvisor; none
                        disconnects the UART
    -monitor none       accepted; there is no monitor yet

DEBUGGING OPTIONS
    -d ITEM[,ITEM...]   trace items: in_asm, int, exec, cpu; -d help lists them
    -D FILE             write the -d trace to FILE instead of standard error

CONSOLE ESCAPES (with -serial mon:stdio)
${ESCAPE_HELP.trimEnd().split("\n").map((line) => `    ${line}`).join("\n")}

ENVIRONMENT
    TSVISOR_DEBUG=1     print the stack of an internal error

EXAMPLES
    Boot the project's Linux guest (after npm run guest):
        tsvisor --default-guest

    Boot Linux with OpenSBI as QEMU would:
        tsvisor -M virt -m 256M -nographic -bios default \\
            -kernel Image -initrd initramfs.cpio.gz -append "console=ttyS0"

    Run U-Boot in S-mode under OpenSBI:
        tsvisor -M virt -nographic -kernel /usr/lib/u-boot/qemu-riscv64_smode/uboot.elf

    Run a bare-metal ISA test that reports through HTIF:
        tsvisor -M spike -bios none -kernel rv64ui-p-add

    Save the board's device tree and read it:
        tsvisor -M virt,dumpdtb=virt.dtb && dtc -I dtb -O dts virt.dtb

EXIT STATUS
    0   the guest powered off, Ctrl-A X, or SIGINT/SIGTERM/SIGHUP (as QEMU);
        --help and --version
    1   a bad option or file (one line on standard error names it), an internal
        error, or the exit code a guest reported through its test device
`;
}
