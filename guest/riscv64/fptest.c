/* fptest: exercises the RV64 F and D extensions with results known exactly.
 * Every input goes through a volatile so the compiler cannot fold the arithmetic away:
 * the guest's FPU (fadd/fmul/fdiv/fsqrt/fmadd/fcvt/fsgnj/fmin, fflags, frm) does the work.
 * The expected output is FPTEST_OUTPUT in guest/paths.ts; the last line says whether the
 * program's own checks passed, so a human at the guest shell can read it too. */
#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static volatile double one = 1.0, two = 2.0, three = 3.0, ten = 10.0, tenth = 0.1, zero = 0.0;
static volatile float onef = 1.0f, threef = 3.0f, sevenf = 7.0f, twentytwof = 22.0f;
static volatile long big = 9007199254740993L; /* 2^53 + 1: not a double */

static int failures;

static void check(const char *name, const char *got, const char *want) {
  printf(" %s=%s", name, got);
  if (strcmp(got, want) != 0) failures++;
}

int main(void) {
  char buf[64];
  printf("fptest:");

  double zeta = 0; /* sum 1/k^2 backwards: small terms first, the accurate order */
  for (int k = 1000; k >= 1; k--) zeta += one / ((double)k * k);
  snprintf(buf, sizeof buf, "%.12f", zeta);
  check("zeta2", buf, "1.643934566682");

  snprintf(buf, sizeof buf, "%.15f", sqrt(two));
  check("sqrt2", buf, "1.414213562373095");

  snprintf(buf, sizeof buf, "%.9f", (double)(onef / threef));
  check("third", buf, "0.333333343");

  snprintf(buf, sizeof buf, "%.7f", (double)(twentytwof / sevenf));
  check("pi7", buf, "3.1428571");

  /* fused multiply-add rounds once: 0.1*10 - 1 is 0 in two steps, 2^-54 fused */
  snprintf(buf, sizeof buf, "%.6e", fma(tenth, ten, -one));
  check("fma", buf, "5.551115e-17");

  snprintf(buf, sizeof buf, "%ld,%ld,%.1f", lrint(2.5), lrint(3.5), (double)big);
  check("rint", buf, "2,4,9007199254740992.0");

  snprintf(buf, sizeof buf, "%.1f,%.1f,%d", copysign(three, -zero), fmax(NAN, two), NAN != NAN);
  check("sgn", buf, "-3.0,2.0,1");

  feclearexcept(FE_ALL_EXCEPT);
  volatile double q = one / three;
  int inexact = fetestexcept(FE_INEXACT) != 0;
  q = one / zero;
  int dz = fetestexcept(FE_DIVBYZERO) != 0;
  snprintf(buf, sizeof buf, "%d%d", inexact, dz);
  check("flags", buf, "11");

  fesetround(FE_UPWARD);
  q = one / three;
  fesetround(FE_TONEAREST);
  snprintf(buf, sizeof buf, "%.17g", (double)q);
  check("up", buf, "0.33333333333333337");

  printf("\nfptest: %s\n", failures ? "FAIL" : "ok");
  return failures ? 1 : 0;
}
