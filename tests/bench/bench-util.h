/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-util.h: what every benchmark shares: running the PyTorch side in the
 * same invocation and printing `bench NAME: ours X UNIT, pytorch Y UNIT, ratio R`. */
#ifndef NCFM_BENCH_UTIL_H
#define NCFM_BENCH_UTIL_H

#include <json-glib/json-glib.h>

/* Runs $NCFM_BENCH_PYTHON (default /usr/bin/python3) on SCRIPT ARGS..., the
 * script taken from $NCFM_BENCH_DIR (default: the bench sources), and parses
 * the JSON object it prints; NULL (with a note on stderr) if PyTorch is not
 * there.  args is NULL-terminated. */
JsonObject *bench_run_torch (const char *script, const char *const *args);

/* One figure line.  higher_is_better: ratio = ours / pytorch, else pytorch / ours. */
void bench_figure (const char *name, double ours, JsonObject *torch, const char *key,
    const char *unit, gboolean higher_is_better);

/* A figure with no PyTorch counterpart: `bench NAME: ours X UNIT, no pytorch counterpart`. */
void bench_figure_alone (const char *name, double ours, const char *unit);

/* The command line every bench shares: --iters N, --threads N (also
 * OMP_NUM_THREADS), --device SPEC, --no-torch, and where `accepts` says so,
 * --batch N and --root DIR.  The caller fills the defaults first. */
enum { BENCH_ACCEPTS_BATCH = 1 << 0, BENCH_ACCEPTS_ROOT = 1 << 1 };
typedef struct {
  int batch, iters, threads;
  const char *device, *root;
  gboolean no_torch;
  char threads_str[16];   /* threads as text, for the PyTorch side */
} BenchArgs;

/* FALSE (after printing the usage) on a bad command line. */
gboolean bench_parse_args (int argc, char **argv, unsigned accepts, BenchArgs *args);

/* Peak resident set size of this process so far, in MiB. */
double bench_peak_rss_mb (void);

#endif
