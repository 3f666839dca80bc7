/* bench-cpu: deterministic integer work for measuring guest speed.
 * Usage: bench-cpu [rounds]   (default 20)
 * Each round runs a prime sieve, a bitwise CRC-32 and an insertion-free heap sort over
 * pseudo-random data, then folds the results into a checksum. The same rounds always
 * execute the same instructions, so a host that counts retired instructions (instret)
 * can turn the elapsed time printed here into guest MIPS; the checksum proves the work
 * was done right. Expected checksums: BENCH_CPU_CHECKSUMS in guest/paths.ts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SIEVE_N 65536
#define CRC_BYTES 16384
#define SORT_N 4096

static uint8_t composite[SIEVE_N];
static uint8_t data[CRC_BYTES];
static uint32_t keys[SORT_N];

static uint32_t xorshift(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

static uint32_t sieve(void) {
  uint32_t count = 0;
  for (uint32_t i = 0; i < SIEVE_N; i++) composite[i] = 0;
  for (uint32_t i = 2; i < SIEVE_N; i++) {
    if (composite[i]) continue;
    count++;
    for (uint32_t j = i * 2; j < SIEVE_N; j += i) composite[j] = 1;
  }
  return count;
}

static uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int b = 0; b < 8; b++) crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
  }
  return ~crc;
}

static void sift_down(uint32_t *a, size_t root, size_t n) {
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && a[child] < a[child + 1]) child++;
    if (a[root] >= a[child]) return;
    uint32_t t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

static uint32_t heap_sort(uint32_t *a, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n);
  for (size_t end = n - 1; end > 0; end--) {
    uint32_t t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(a, 0, end);
  }
  uint32_t h = 0; /* order-dependent hash of the sorted keys */
  for (size_t i = 0; i < n; i++) h = h * 31 + a[i];
  return h;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 20;
  if (rounds < 1) rounds = 1;
  uint32_t seed = 2463534242u, checksum = 0;
  double start = now_s();
  for (long r = 0; r < rounds; r++) {
    for (size_t i = 0; i < CRC_BYTES; i++) data[i] = (uint8_t)xorshift(&seed);
    for (size_t i = 0; i < SORT_N; i++) keys[i] = xorshift(&seed);
    checksum = checksum * 33 + sieve();
    checksum = checksum * 33 + crc32(data, CRC_BYTES);
    checksum = checksum * 33 + heap_sort(keys, SORT_N);
  }
  double elapsed = now_s() - start;
  printf("bench-cpu: rounds=%ld checksum=%08x elapsed_ms=%.1f\n", rounds, checksum, elapsed * 1e3);
  return 0;
}
