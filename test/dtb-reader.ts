// A small flattened-device-tree reader for tests: node path -> properties (raw bytes).
// (Not a test file itself.)

export type DtNodes = Map<string, Map<string, Uint8Array>>;

export function readDtb(blob: Uint8Array): DtNodes {
  const v = new DataView(blob.buffer, blob.byteOffset, blob.length);
  if (v.getUint32(0) !== 0xd00dfeed) throw new Error("bad FDT magic");
  const structOff = v.getUint32(8);
  const stringsOff = v.getUint32(12);
  const cstr = (at: number) => {
    let end = at;
    while (blob[end] !== 0) end++;
    return new TextDecoder().decode(blob.subarray(at, end));
  };
  const nodes: DtNodes = new Map();
  const path: string[] = [];
  let at = structOff;
  for (;;) {
    const token = v.getUint32(at);
    at += 4;
    if (token === 1) {
      const name = cstr(at);
      at += (name.length + 4) & ~3;
      path.push(name);
      nodes.set(pathOf(path), new Map());
    } else if (token === 2) {
      path.pop();
    } else if (token === 3) {
      const len = v.getUint32(at);
      const name = cstr(stringsOff + v.getUint32(at + 4));
      nodes.get(pathOf(path))!.set(name, blob.slice(at + 8, at + 8 + len));
      at += 8 + ((len + 3) & ~3);
    } else if (token === 4) {
      // FDT_NOP
    } else if (token === 9) {
      return nodes;
    } else {
      throw new Error(`bad FDT token ${token}`);
    }
  }
}

function pathOf(parts: string[]): string {
  return parts.length <= 1 ? "/" : parts.join("/");
}

export function cells(b: Uint8Array): number[] {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  return Array.from({ length: b.length / 4 }, (_, i) => v.getUint32(i * 4));
}

export function u64s(b: Uint8Array): bigint[] {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  return Array.from({ length: b.length / 8 }, (_, i) => v.getBigUint64(i * 8));
}

export function strings(b: Uint8Array): string[] {
  return new TextDecoder().decode(b).split("\0").slice(0, -1);
}
