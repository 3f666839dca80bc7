// What a network device (virtio-net) sees of a network: Ethernet frames in and out.
// Backends (user-mode NAT, tap, socket) implement it; devices never know which.

export interface NetBackend {
  /** A frame from the guest (destination MAC first, no FCS). */
  send(frame: Uint8Array): void;
  /** Registers where frames for the guest go; the device queues or drops them. */
  onReceive(handler: (frame: Uint8Array) => void): void;
  close(): void;
}
