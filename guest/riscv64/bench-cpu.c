/* bench-cpu: deterministic work for measuring guest speed.
 * Usage: bench-cpu [rounds]            (default 20) the mixed workload below
 *        bench-cpu int|mem|tlb|fp [rounds]  one part of the CPU on its own
 * The mixed round runs a prime sieve, a bitwise CRC-32 and an insertion-free heap sort
 * over pseudo-random data, then folds the results into a checksum. The same rounds always
 * execute the same instructions, so a host that counts retired instructions (instret)
 * can turn the elapsed time printed here into guest MIPS; the checksum proves the work
 * was done right. Expected checksums: BENCH_CPU in guest/paths.ts.
 * The parts (bench/cpu-parts.ts runs them) print
 *   "bench-cpu: mode=<m> rounds=<n> checksum=<hex8> elapsed_ms=<ms> instret=<count>"
 * where instret is the rounds' retired instructions as `rdinstret` reads them (-1 where
 * user mode may not read the counter). They are:
 *   int  integer ALU work in registers: xorshift/multiply/divide hashing, bit counting,
 *        a bitwise CRC-32 of a small buffer (few loads and stores);
 *   mem  loads and stores within some 600 KiB (under 160 pages, which a 256-entry TLB
 *        holds): a pointer chase along one random cycle through 256 KiB, a streaming
 *        copy-and-sum, byte stores;
 *   tlb  a pointer chase along one random cycle through 4 MiB: nearly every step loads
 *        from another of 1024 pages, so an emulator's software TLB misses often;
 *   fp   double-precision arithmetic: a 40x40 matrix product, a series with division
 *        and square roots, float <-> int conversions. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- the parts ---- */

/* int: hashing and bit tricks on registers; 64-bit multiply and divide. */
static uint32_t part_int(uint32_t seed) {
  uint64_t h = seed | 1, acc = 0;
  for (uint32_t i = 0; i < 40000; i++) {
    h ^= h << 13;
    h ^= h >> 7;
    h ^= h << 17;
    uint64_t m = h * 0x9e3779b97f4a7c15ull;
    acc += m / ((i & 0xff) + 3) + m % 1000003;
    acc ^= (uint64_t)__builtin_popcountll(m) << (i & 31);
    if ((int64_t)m < 0) acc = (acc << 1) | (acc >> 63);
    else acc += (uint32_t)(m >> 32) * 7u;
  }
  for (size_t i = 0; i < 1024; i++) data[i] = (uint8_t)(acc >> (i & 56));
  return (uint32_t)(acc ^ (acc >> 32)) ^ crc32(data, 1024);
}

/* mem and tlb: next[] is one random cycle through all its words (a pointer chase). */
#define MEM_WORDS (1u << 16)  /* 256 KiB */
#define TLB_WORDS (1u << 20)  /* 4 MiB */
#define CHASE_STEPS 60000
#define STREAM_WORDS (1u << 15)
static uint32_t *next_idx, *stream_src, *stream_dst;
static uint32_t chase_words;

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "bench-cpu: out of memory\n");
    exit(1);
  }
  return p;
}

static void chase_setup(uint32_t words) {
  chase_words = words;
  next_idx = xmalloc(words * sizeof *next_idx);
  stream_src = xmalloc(STREAM_WORDS * sizeof *stream_src);
  stream_dst = xmalloc(STREAM_WORDS * sizeof *stream_dst);
  /* Sattolo's shuffle of the identity gives a single cycle. */
  uint32_t s = 88172645u;
  for (uint32_t i = 0; i < words; i++) next_idx[i] = i;
  for (uint32_t i = words - 1; i > 0; i--) {
    uint32_t j = xorshift(&s) % i, t = next_idx[i];
    next_idx[i] = next_idx[j];
    next_idx[j] = t;
  }
  for (uint32_t i = 0; i < STREAM_WORDS; i++) stream_src[i] = xorshift(&s);
}

static uint32_t chase(uint32_t seed, uint32_t steps) {
  uint32_t p = seed % chase_words, sum = 0;
  for (uint32_t i = 0; i < steps; i++) {
    p = next_idx[p];
    sum += p;
  }
  return sum;
}

static uint32_t part_tlb(uint32_t seed) {
  return chase(seed, CHASE_STEPS);
}

static uint32_t part_mem(uint32_t seed) {
  uint32_t sum = chase(seed, CHASE_STEPS / 2);
  for (uint32_t i = 0; i < STREAM_WORDS; i++) {
    uint32_t v = stream_src[i] + sum;
    stream_dst[STREAM_WORDS - 1 - i] = v;
    sum ^= v;
  }
  for (uint32_t i = 0; i < 16384; i++) composite[(i * 40503u) & (SIEVE_N - 1)] = (uint8_t)(sum + i);
  for (uint32_t i = 0; i < SIEVE_N; i += 64) sum += composite[i] + stream_dst[i & (STREAM_WORDS - 1)];
  return sum;
}

/* fp: doubles only; the checksum folds the exact bit patterns. */
#define MAT_N 40
static double ma[MAT_N][MAT_N], mb[MAT_N][MAT_N], mc[MAT_N][MAT_N];

static uint32_t fold_double(uint32_t h, double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  return h * 33 + (uint32_t)(bits ^ (bits >> 32));
}

static uint32_t part_fp(uint32_t seed) {
  for (int i = 0; i < MAT_N; i++) {
    for (int j = 0; j < MAT_N; j++) {
      ma[i][j] = (double)((seed + i * 7 + j) % 97) / 13.0 - 3.5;
      mb[i][j] = (double)((seed + i + j * 5) % 89) / 11.0 + 0.25;
    }
  }
  for (int i = 0; i < MAT_N; i++) {
    for (int j = 0; j < MAT_N; j++) {
      double acc = 0;
      for (int k = 0; k < MAT_N; k++) acc += ma[i][k] * mb[k][j];
      mc[i][j] = acc;
    }
  }
  double series = 0, x = 1.0 + (seed & 15);
  for (int i = 1; i <= 8000; i++) {
    series += (i & 1 ? 1.0 : -1.0) / (2.0 * i - 1.0);
    x = __builtin_sqrt(x * 1.0001 + 2.0) * 0.5 + (double)(i % 10) * 0.01;
    series += (double)(int64_t)(x * 1000.0) * 1e-9;
  }
  uint32_t h = 5381;
  for (int i = 0; i < MAT_N; i++) h = fold_double(h, mc[i][(i * 3) % MAT_N]);
  h = fold_double(h, series);
  return fold_double(h, x);
}

/* rdinstret where user mode may read it; -1 when it traps (SIGILL). */
static sigjmp_buf no_counter;
static void on_sigill(int sig) {
  (void)sig;
  siglongjmp(no_counter, 1);
}

static long long read_instret(void) {
  unsigned long v;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigill;
  sigaction(SIGILL, &sa, &old);
  if (sigsetjmp(no_counter, 1)) {
    sigaction(SIGILL, &old, NULL);
    return -1;
  }
  __asm__ volatile("rdinstret %0" : "=r"(v));
  sigaction(SIGILL, &old, NULL);
  return (long long)v;
}

static int run_part(const char *mode, long rounds) {
  uint32_t (*part)(uint32_t);
  if (strcmp(mode, "int") == 0) part = part_int;
  else if (strcmp(mode, "mem") == 0) part = part_mem;
  else if (strcmp(mode, "tlb") == 0) part = part_tlb;
  else if (strcmp(mode, "fp") == 0) part = part_fp;
  else {
    fprintf(stderr, "usage: bench-cpu [rounds] | bench-cpu int|mem|tlb|fp [rounds]\n");
    return 2;
  }
  if (part == part_mem) chase_setup(MEM_WORDS);
  if (part == part_tlb) chase_setup(TLB_WORDS);
  uint32_t checksum = 0;
  long long before = read_instret();
  double start = now_s();
  for (long r = 0; r < rounds; r++) checksum = checksum * 33 + part((uint32_t)r * 2654435761u + 12345u);
  double elapsed = now_s() - start;
  long long after = read_instret();
  long long instret = before < 0 || after < 0 ? -1 : after - before;
  printf("bench-cpu: mode=%s rounds=%ld checksum=%08x elapsed_ms=%.1f instret=%lld\n", mode, rounds, checksum,
         elapsed * 1e3, instret);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9')) {
    long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 1;
    return run_part(argv[1], rounds < 1 ? 1 : rounds);
  }
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
