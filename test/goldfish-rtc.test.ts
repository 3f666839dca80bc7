import { test } from "node:test";
import assert from "node:assert/strict";
import { GoldfishRtc } from "../src/hw/rtc/goldfish-rtc.js";

const TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10, CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c;

function make(wall = 1_700_000_000_123_456_789n) {
  const host = { wall };
  const irq = { level: false, set(l: boolean) { this.level = l; } };
  const rtc = new GoldfishRtc(irq, () => host.wall);
  const rd = (off: number) => rtc.read(off, 4);
  const wr = (off: number, v: number) => rtc.write(off, v, 4);
  const readTime = () => { const lo = rd(TIME_LOW); return (BigInt(rd(TIME_HIGH)) << 32n) | BigInt(lo); };
  return { rtc, host, irq, rd, wr, readTime };
}

test("reads the host wall clock in ns since the epoch", () => {
  const { readTime, host } = make();
  assert.equal(readTime(), host.wall);
});

test("reading TIME_LOW latches TIME_HIGH", () => {
  const { host, rd } = make(0x1_ffff_fff0n);
  const lo = rd(TIME_LOW);
  host.wall += 0x100n; // the high word would now read 2
  assert.equal(rd(TIME_HIGH), 1);
  assert.equal(lo, 0xffff_fff0);
});

test("writing the time (high then low, as Linux does) sets an offset", () => {
  const { host, wr, readTime } = make();
  const target = 1_000_000_000_000_000_000n;
  wr(TIME_HIGH, Number(target >> 32n));
  wr(TIME_LOW, Number(target & 0xffffffffn));
  assert.equal(readTime(), target);
  host.wall += 5n;
  assert.equal(readTime(), target + 5n);
});

test("an alarm in the past fires at once when enabled", () => {
  const { host, irq, rd, wr } = make();
  wr(IRQ_ENABLED, 1);
  const at = host.wall - 1n;
  wr(ALARM_HIGH, Number(at >> 32n));
  wr(ALARM_LOW, Number(at & 0xffffffffn));
  assert.equal(irq.level, true);
  assert.equal(rd(ALARM_STATUS), 0);
  wr(CLEAR_INTERRUPT, 1);
  assert.equal(irq.level, false);
});

test("a future alarm fires on poll() once due; IRQ_ENABLED gates the line", () => {
  const { rtc, host, irq, rd, wr } = make();
  const at = host.wall + 1_000_000n;
  wr(ALARM_HIGH, Number(at >> 32n));
  wr(ALARM_LOW, Number(at & 0xffffffffn));
  assert.equal(rd(ALARM_STATUS), 1);
  assert.equal(BigInt(rd(ALARM_LOW)) | (BigInt(rd(ALARM_HIGH)) << 32n), at);
  rtc.poll();
  assert.equal(irq.level, false);
  host.wall = at;
  rtc.poll();
  assert.equal(rd(ALARM_STATUS), 0);
  assert.equal(irq.level, false); // pending but not enabled
  wr(IRQ_ENABLED, 1);
  assert.equal(rd(IRQ_ENABLED), 1);
  assert.equal(irq.level, true);
  wr(CLEAR_INTERRUPT, 1);
  assert.equal(irq.level, false);
});

test("CLEAR_ALARM cancels a running alarm", () => {
  const { rtc, host, irq, rd, wr } = make();
  wr(IRQ_ENABLED, 1);
  const at = host.wall + 10n;
  wr(ALARM_HIGH, Number(at >> 32n));
  wr(ALARM_LOW, Number(at & 0xffffffffn));
  wr(CLEAR_ALARM, 1);
  assert.equal(rd(ALARM_STATUS), 0);
  host.wall += 100n;
  rtc.poll();
  assert.equal(irq.level, false);
});

test("unknown offsets read 0", () => {
  const { rd, wr } = make();
  wr(0x40, 1);
  assert.equal(rd(0x40), 0);
});
