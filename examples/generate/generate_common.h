/* generate_common.h - what generate.c and generate_mamba.c share: the
   command line's prompts, device buffers, greedy choice and the results. */
#ifndef GENERATE_COMMON_H
#define GENERATE_COMMON_H

#include "iolite_runtime.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 16
#define MAX_PROMPT 64
#define MAX_NEW_TOKENS 256

/* 0 on success; otherwise prints what failed, the runtime's reason and
   `detail` (the bundle's load error), and returns 1. */
static int check_status(const char *program, iolite_status_t s,
                        const char *what, const char *detail) {
  if (s == IOLITE_SUCCESS)
    return 0;
  fprintf(stderr, "%s: %s failed: %s%s\n", program, what, iolite_last_error(),
          detail);
  return 1;
}

/* A zeroed device buffer of `bytes` (at least one), or NULL. */
static void *device_alloc(iolite_device_t device, size_t bytes) {
  void *p = NULL;
  if (iolite_malloc(device, bytes ? bytes : 1, &p) != IOLITE_SUCCESS)
    return NULL;
  if (iolite_memset(device, p, 0, bytes ? bytes : 1) != IOLITE_SUCCESS)
    return NULL;
  return p;
}

/* Reads `count` prompts of comma-separated token ids into `prompts`, their
   lengths into `len` and the longest into `*longest`; 0 on success. */
static int parse_prompts(const char *program, int count, char **texts,
                         int32_t prompts[][MAX_PROMPT], int64_t *len,
                         int64_t *longest) {
  *longest = 0;
  for (int b = 0; b < count; ++b) {
    char *text = texts[b], *end;
    len[b] = 0;
    for (;;) {
      long token = strtol(text, &end, 10);
      if (end == text || len[b] == MAX_PROMPT) {
        fprintf(stderr, "%s: malformed prompt '%s'\n", program, texts[b]);
        return 1;
      }
      prompts[b][len[b]++] = (int32_t)token;
      if (*end != ',')
        break;
      text = end + 1;
    }
    if (len[b] > *longest)
      *longest = len[b];
  }
  return 0;
}

/* The most likely token of a row of logits. */
static int32_t argmax(const float *row, int64_t vocab) {
  int32_t best = 0;
  for (int64_t v = 1; v < vocab; ++v)
    if (row[v] > row[best])
      best = (int32_t)v;
  return best;
}

/* Prints each sequence's new tokens and writes the logits they were chosen
   from (float32 [new_tokens][batch][vocab]) to `path`; 0 on success. */
static int write_results(const char *program, int batch, long new_tokens,
                         int32_t out[][MAX_NEW_TOKENS], const float *chosen,
                         int64_t vocab, const char *path) {
  for (int b = 0; b < batch; ++b) {
    printf("sequence %d:", b);
    for (long i = 0; i < new_tokens; ++i)
      printf(" %d", out[b][i]);
    printf("\n");
  }
  size_t count = (size_t)new_tokens * batch * vocab;
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(chosen, 4, count, f) != count) {
    fprintf(stderr, "%s: cannot write %s\n", program, path);
    if (f)
      fclose(f);
    return 1;
  }
  fclose(f);
  return 0;
}

#endif /* GENERATE_COMMON_H */
