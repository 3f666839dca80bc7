// `tsvisor --help`: a short manual page. Options are named and grouped as in QEMU's
// own manual so that QEMU users find them where they expect.
import { ESCAPE_HELP } from "../host/terminal.js";

export function helpText(version: string): string {
  return `NAME
    tsvisor ${version} - a machine emulator in TypeScript with QEMU's command line

SYNOPSIS
    tsvisor [options]
    tsvisor --default-guest [options]
    tsvisor -accel kvm -kernel bzImage [options]
    tsvisor img create|info|check|convert|resize ...

DESCRIPTION
    tsvisor emulates a RISC-V RV64GC computer in software and boots unmodified
    firmware (OpenSBI, U-Boot) and Linux kernels on it. On an x86-64 Linux host
    with /dev/kvm it also runs x86-64 Linux guests at native speed under KVM
    (-accel kvm, the microvm board below). Its options are QEMU's: a command
    line that works with qemu-system-riscv64 or qemu-system-x86_64 -M microvm
    for the options below works here, and every option may be written with
    one dash or two.

    The guest's serial console is this terminal. tsvisor exits with the guest:
    a guest power-off ends it with status 0.

STANDARD OPTIONS
    -h, -help           print this help and exit
    -version            print the version and exit
    -M, -machine TYPE[,dumpdtb=FILE][,acpi=on|off][,accel=tcg|kvm]
                        board to emulate: virt (default), spike, or microvm
                        (x86-64, KVM only; see below); -M help lists them.
                        dumpdtb=FILE writes the board's device tree blob to
                        FILE and exits; -machine dumpdtb=FILE keeps the board
    -m [size=]SIZE      guest RAM (default 128M); a number with an optional
                        suffix K, M, G or T; a bare number means MiB; at most
                        3G on microvm
    -smp [cpus=]N       number of CPUs: 1 on virt and spike for now, 1 to 64
                        on microvm (each vCPU runs on its own thread)
    -accel tcg[,thread=single][,jit=on|off][,jit-threshold=N][,jit-tier-up=N]
                        software emulation (RISC-V boards): hot guest code is
                        translated to WebAssembly; jit=off keeps tcg to the
                        interpreter; jit-threshold=N translates a block after
                        it started N times in the interpreter (default 100,
                        1 translates almost everything); jit-tier-up=N
                        translates code again, for speed, after its quick
                        first translation ran N blocks (default 100000)
    -accel kvm, -enable-kvm
                        hardware virtualization through /dev/kvm: x86-64
                        guests on the microvm board; without -M it picks
                        microvm on an x86-64 Linux host
    --default-guest     boot the project's own Linux guest (built by npm run
                        guest), as -M virt -m 256M -nographic -bios default
                        -kernel IMAGE -initrd INITRAMFS -append CMDLINE;
                        with -accel kvm the x86-64 guest on microvm instead;
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

BLOCK DEVICE OPTIONS
    -drive file=FILE[,format=raw|qcow2][,if=virtio|none][,id=ID][,readonly=on]
           [,cache=writeback|none|writethrough|directsync|unsafe][,snapshot=on]
                        a disk image. if=virtio (the default here) attaches it
                        as a virtio-mmio virtio-blk disk (/dev/vda, vdb, ... in
                        order; QEMU's virt makes if=virtio a PCI device instead,
                        so the spelling both accept is if=none,id=ID with
                        -device virtio-blk-device,drive=ID);
                        if=none leaves it for -device virtio-blk-device,drive=ID.
                        Without format= the image is probed (raw or qcow2).
                        readonly=on: the guest sees a read-only disk. snapshot=on:
                        writes go to a throw-away overlay
    -snapshot           snapshot=on for every drive

NETWORK OPTIONS
    -netdev user,id=ID[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
                        user-mode network: the guest gets 10.0.2.15 by DHCP,
                        gateway 10.0.2.2, DNS 10.0.2.3; hostfwd forwards a host
                        port into the guest (repeatable)
    -netdev tap,id=ID,ifname=NAME
                        a host tap interface (Linux, where permitted)
    -netdev socket,id=ID,listen=[HOST]:PORT|connect=HOST:PORT
                        a link to another emulator over TCP
    -nic user[,hostfwd=...][,mac=MAC]
                        shorthand for -netdev user plus -device virtio-net-device
    -net nic[,macaddr=MAC] -net user|tap|socket[,...]
                        the old spelling: one NIC joined to one backend

DEVICE OPTIONS
    -device DRIVER[,PROP=VALUE...]
                        add a device; -device help lists them. The virt board has
                        8 virtio-mmio slots, filled from the last one down as in
                        QEMU (if=virtio drives first, then -device in order):
        virtio-blk-device,drive=ID[,serial=STR]    a -drive as a virtio disk
        virtio-net-device,netdev=ID[,mac=MAC]      network card (default MAC
                                                   52:54:00:12:34:56, +1 per card)
        virtio-rng-device                          /dev/hwrng from the host's
                                                   crypto random source
        virtio-console-device                      a virtio console (hvc0, or hvc1
                                                   when the kernel has SBI's hvc0):
                                                   output goes to this terminal; the
                                                   keyboard too under -serial none
        virtio-serial-device + virtconsole         QEMU's spelling of the same

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
    -d ITEM[,ITEM...]   trace items: in_asm, int, exec, cpu, boot-timer; -d help
                        lists them. boot-timer logs "boot-timer: N ms", the time
                        from tsvisor's start to the guest's write to port 0x440
    -D FILE             write the -d trace to FILE instead of standard error

X86-64 GUESTS UNDER KVM (-M microvm -accel kvm)
    The microvm board is QEMU's and Firecracker's minimal x86-64 PC: no
    firmware and no PCI. tsvisor loads a Linux bzImage (-kernel) and starts
    it in 64-bit mode; the CPUs run natively in the host kernel (KVM), which
    also provides the local APICs, the IOAPIC and the PIT. tsvisor supplies:
        16550 UART (ttyS0)   ports 0x3f8-0x3ff, IRQ 4: the console
        virtio-mmio          0xd0000000 + N*0x1000, IRQ 5+N: up to 8 -drive
                             and -device virtio-* devices, as on virt (vda is
                             the first drive)
        ACPI (acpi=on)       RSDP/XSDT/FADT/MADT/DSDT describing the CPUs, the
                             UART and the virtio devices (hardware-reduced
                             ACPI: sleep control at port 0x600, reset 0x602)
        acpi=off             an MP table, and virtio_mmio.device= entries and
                             acpi=off on the kernel command line
        i8042                ports 0x60/0x64: command 0xfe resets
        boot timer           port 0x440 (see -d boot-timer)
    The kernel command line starts with "console=ttyS0 reboot=k panic=-1";
    -append adds to it. Guest poweroff ends tsvisor with status 0; reboot
    restarts the VM (fresh RAM) or, with -no-reboot, ends it. -bios and -dtb
    do not apply. Needs read/write access to /dev/kvm (the kvm group).

    Examples:
    Boot the project's x86-64 guest (npm run guest -- x86-kernel x86-initramfs):
        tsvisor --default-guest -accel kvm

    Boot a bzImage with 4 CPUs; log the milliseconds to the guest's init:
        tsvisor -accel kvm -m 512M -smp 4 -kernel bzImage \\
            -initrd initramfs.cpio.gz -append "quiet" -d boot-timer

    Without ACPI (the virtio devices go on the kernel command line):
        tsvisor -M microvm,acpi=off -accel kvm -kernel bzImage \\
            -drive file=disk.qcow2,if=virtio -device virtio-rng-device

    A distribution kernel with its root file system on /dev/vda:
        tsvisor -accel kvm -kernel /boot/vmlinuz -initrd /boot/initrd.img \\
            -append "root=/dev/vda rw" -drive file=root.img,format=raw -no-reboot

CONSOLE ESCAPES (with -serial mon:stdio)
${ESCAPE_HELP.trimEnd().split("\n").map((line) => `    ${line}`).join("\n")}

DISK IMAGES (tsvisor img, with qemu-img's spelling)
    tsvisor img create -f qcow2|raw [-b BACKING -F FMT] [-o cluster_size=N,compat=0.10|1.1] FILE [SIZE]
    tsvisor img info [--output=json] FILE
    tsvisor img check FILE      exit 0 clean, 2 corruptions, 3 leaked clusters only
    tsvisor img convert [-f FMT] -O FMT IN OUT
    tsvisor img resize FILE [+]SIZE

ENVIRONMENT
    TSVISOR_DEBUG=1     print the stack of an internal error
    TSVISOR_STATS=1     print instructions retired, MIPS, the translator's share and memory
                        use at exit, and at any time on SIGUSR2
    TSVISOR_CACHE=DIR   where guest builds are cached (default ~/.cache/tsvisor)

EXAMPLES
    Boot the project's Linux guest (after npm run guest):
        tsvisor --default-guest

    Boot Linux with OpenSBI as QEMU would:
        tsvisor -M virt -m 256M -nographic -bios default \\
            -kernel Image -initrd initramfs.cpio.gz -append "console=ttyS0"

    Boot the Linux guest with a disk, a random source and user networking:
        tsvisor --default-guest -drive file=disk.qcow2,if=virtio \\
            -device virtio-rng-device \\
            -netdev user,id=n0,hostfwd=tcp::2222-:22 -device virtio-net-device,netdev=n0

    Run U-Boot in S-mode under OpenSBI:
        tsvisor -M virt -nographic -kernel /usr/lib/u-boot/qemu-riscv64_smode/uboot.elf

    Run a bare-metal ISA test that reports through HTIF:
        tsvisor -M spike -bios none -kernel rv64ui-p-add

    Save the board's device tree and read it:
        tsvisor -M virt,dumpdtb=virt.dtb && dtc -I dtb -O dts virt.dtb

EXIT STATUS
    0   the guest powered off, Ctrl-A X, or SIGINT/SIGTERM/SIGHUP (as QEMU);
        --help and --version
    1   a bad option or file (one line on standard error names it), no usable
        /dev/kvm, a vCPU that KVM could not run, an internal error, or the
        exit code a guest reported through its test device
`;
}
