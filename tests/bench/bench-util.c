/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bench-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

JsonObject *
bench_run_torch (const char *script, const char *const *args)
{
  /* overridable for machines where the sources or PyTorch live elsewhere */
  const char *dir = g_getenv ("NCFM_BENCH_DIR") ? g_getenv ("NCFM_BENCH_DIR") : NCFM_BENCH_SRCDIR;
  const char *python = g_getenv ("NCFM_BENCH_PYTHON") ? g_getenv ("NCFM_BENCH_PYTHON")
      : "/usr/bin/python3";
  g_autofree gchar *path = g_build_filename (dir, script, NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) python);
  g_ptr_array_add (argv, path);
  for (guint i = 0; args && args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_autofree gchar *out = NULL, *err = NULL;
  gint status = 0;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_sync (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
          &status, &error) || !g_spawn_check_wait_status (status, &error)) {
    g_printerr ("pytorch side unavailable: %s\n%s", error ? error->message : "", err ? err : "");
    return NULL;
  }
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, out, -1, &error)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_printerr ("pytorch side printed no JSON object: %s\n", out);
    return NULL;
  }
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* decimals that keep three significant digits below 100, one above */
static int
digits (double x)
{
  x = x < 0 ? -x : x;
  return x >= 100 ? 1 : x >= 10 ? 2 : 3;
}

void
bench_figure (const char *name, double ours, JsonObject *torch, const char *key, const char *unit,
    gboolean higher_is_better)
{
  if (torch && json_object_has_member (torch, key)) {
    double theirs = json_object_get_double_member (torch, key);
    double ratio = higher_is_better ? ours / theirs : theirs / ours;
    printf ("bench %s: ours %.*f %s, pytorch %.*f %s, ratio %.2f\n", name, digits (ours), ours,
        unit, digits (theirs), theirs, unit, ratio);
  } else {
    printf ("bench %s: ours %.*f %s, pytorch unavailable\n", name, digits (ours), ours, unit);
  }
  fflush (stdout);
}

void
bench_figure_alone (const char *name, double ours, const char *unit)
{
  printf ("bench %s: ours %.*f %s, no pytorch counterpart\n", name, digits (ours), ours, unit);
  fflush (stdout);
}

double
bench_peak_rss_mb (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

gboolean
bench_parse_args (int argc, char **argv, unsigned accepts, BenchArgs *args)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp (a, "--iters") && v)
      args->iters = atoi (argv[++i]);
    else if (!strcmp (a, "--threads") && v)
      args->threads = atoi (argv[++i]);
    else if (!strcmp (a, "--device") && v)
      args->device = argv[++i];
    else if (!strcmp (a, "--no-torch"))
      args->no_torch = TRUE;
    else if ((accepts & BENCH_ACCEPTS_BATCH) && !strcmp (a, "--batch") && v)
      args->batch = atoi (argv[++i]);
    else if ((accepts & BENCH_ACCEPTS_ROOT) && !strcmp (a, "--root") && v)
      args->root = argv[++i];
    else {
      args->iters = 0;   /* report below */
      break;
    }
  }
  if (args->iters < 1 || args->threads < 1 || ((accepts & BENCH_ACCEPTS_BATCH) && args->batch < 1)) {
    fprintf (stderr, "usage: %s%s [--iters N] [--threads N] [--device auto|cpu|cuda:N] "
        "[--no-torch]%s\n", argv[0], (accepts & BENCH_ACCEPTS_BATCH) ? " [--batch N]" : "",
        (accepts & BENCH_ACCEPTS_ROOT) ? " [--root DIR]" : "");
    return FALSE;
  }
  g_snprintf (args->threads_str, sizeof args->threads_str, "%d", args->threads);
  /* OpenMP reads this at its first parallel region */
  g_setenv ("OMP_NUM_THREADS", args->threads_str, TRUE);
  return TRUE;
}
