/* generate.c - greedy generation with a paged KV cache, from C.

   Runs the llama_step bundle (examples/generate/llama.py): one prefill step
   over a batch of prompts of different lengths (padded to the longest), then
   one decode step per new token, each choosing the most likely token. The KV
   cache is a pool of pages per layer that the bundle updates in place; each
   sequence owns the pages its block table row names.

     generate DEVICE BUNDLE_DIR NEW_TOKENS LOGITS_OUT PROMPT...

   DEVICE is an iolite device ("emu-sm_90a", "cuda", "hip"); each PROMPT is
   a comma-separated list of token ids. Prints one line per sequence with
   its new tokens, and writes the logits the tokens were chosen from to
   LOGITS_OUT (float32 [NEW_TOKENS][batch][vocab]). */
#include "llama_step.h"

#include "generate_common.h"

#define NUM_POOLS (LLAMA_STEP_NUM_INPUTS - 5)

static int check(iolite_status_t s, const char *what) {
  return check_status("generate", s, what, llama_step_load_error());
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: generate DEVICE BUNDLE_DIR NEW_TOKENS LOGITS_OUT "
                    "PROMPT...\n");
    return 2;
  }
  const char *device_name = argv[1], *bundle_dir = argv[2];
  long new_tokens = strtol(argv[3], NULL, 10);
  const char *logits_path = argv[4];
  int batch = argc - 5;
  if (batch > MAX_BATCH || new_tokens < 1 || new_tokens > MAX_NEW_TOKENS) {
    fprintf(stderr, "generate: 1..%d prompts and 1..%d new tokens\n", MAX_BATCH,
            MAX_NEW_TOKENS);
    return 2;
  }

  /* The pools' shape: [pages, page size, kv heads, head dim]; the table's
     columns: pages per sequence; the logits' last dim: the vocabulary. */
  const int64_t *pool_shape = llama_step_input_5_shape;
  int64_t pool_pages = pool_shape[0];
  int64_t per_seq = llama_step_input_4_shape[1];
  int64_t vocab = llama_step_output_0_shape[2];
  size_t pool_bytes = LLAMA_STEP_INPUT_5_BYTES;

  int32_t prompts[MAX_BATCH][MAX_PROMPT];
  int64_t prompt_len[MAX_BATCH], longest;
  if (parse_prompts("generate", batch, argv + 5, prompts, prompt_len, &longest))
    return 2;
  if (per_seq > 8 || batch * per_seq > pool_pages) {
    fprintf(stderr,
            "generate: %d sequences need %lld pages, the pool has "
            "%lld\n",
            batch, (long long)(batch * per_seq), (long long)pool_pages);
    return 2;
  }

  iolite_device_t device;
  if (check(iolite_device_open(device_name, 0, &device), "opening the device"))
    return 1;
  char weights[4096];
  snprintf(weights, sizeof(weights), "%s/%s", bundle_dir,
           LLAMA_STEP_WEIGHTS_FILE);
  llama_step_model *model;
  if (check(llama_step_load_from(
                device, LLAMA_STEP_WEIGHTS_BYTES ? weights : NULL, &model),
            "loading the bundle"))
    return 1;

  /* Pages of sequence b: a permutation of the pool, so that a sequence's
     pages are neither contiguous nor in order. */
  int32_t table[MAX_BATCH * 8];
  for (int b = 0; b < batch; ++b)
    for (int64_t j = 0; j < per_seq; ++j)
      table[b * per_seq + j] =
          (int32_t)((5 * (b * per_seq + j) + 3) % pool_pages);

  /* Device buffers: the step's inputs at the largest step (the prefill),
     the pools (zeroed), the logits and the workspace. */
  size_t step_cap = (size_t)batch * (size_t)longest;
  void *d_tokens = device_alloc(device, step_cap * 4);
  void *d_positions = device_alloc(device, step_cap * 4);
  void *d_lens = device_alloc(device, (size_t)batch * 4);
  void *d_after = device_alloc(device, (size_t)batch * 4);
  void *d_table = device_alloc(device, (size_t)(batch * per_seq) * 4);
  void *d_logits = device_alloc(device, step_cap * (size_t)vocab * 4);
  void *d_workspace = device_alloc(device, LLAMA_STEP_WORKSPACE_SIZE);
  void *d_pools[NUM_POOLS];
  int ok = d_tokens && d_positions && d_lens && d_after && d_table &&
           d_logits && d_workspace;
  for (int i = 0; i < NUM_POOLS; ++i) {
    d_pools[i] = device_alloc(device, pool_bytes);
    ok = ok && d_pools[i];
  }
  if (!ok || check(iolite_memcpy_h2d(device, d_table, table,
                                     (size_t)(batch * per_seq) * 4),
                   "copying the block table"))
    return 1;

  float *logits = malloc(step_cap * (size_t)vocab * 4);
  float *chosen = malloc((size_t)new_tokens * batch * (size_t)vocab * 4);
  int32_t tokens[MAX_BATCH * MAX_PROMPT], positions[MAX_BATCH * MAX_PROMPT];
  int32_t lens[MAX_BATCH], after[MAX_BATCH], last[MAX_BATCH];
  int32_t out[MAX_BATCH][MAX_NEW_TOKENS];
  if (!logits || !chosen)
    return 1;

  for (long step = 0; step < new_tokens; ++step) {
    /* Prefill: every prompt padded to the longest, at positions 0..; the
       padding rows land past each prompt and are overwritten by its first
       decode step. Decode: one token per sequence at its length. */
    int64_t steps = step == 0 ? longest : 1;
    for (int b = 0; b < batch; ++b) {
      int32_t len = step == 0 ? 0 : (int32_t)(prompt_len[b] + step - 1);
      lens[b] = len;
      after[b] = len + (int32_t)steps;
      for (int64_t t = 0; t < steps; ++t) {
        tokens[b * steps + t] =
            step == 0 ? (t < prompt_len[b] ? prompts[b][t] : 0) : last[b];
        positions[b * steps + t] = len + (int32_t)t;
      }
    }
    int64_t dims[LLAMA_STEP_NUM_DIMS];
    dims[LLAMA_STEP_DIM_BATCH] = batch;
    dims[LLAMA_STEP_DIM_STEPS] = steps;
    const void *host_inputs[LLAMA_STEP_NUM_INPUTS] = {tokens, positions, lens,
                                                      after, table};
    /* Refuses lengths past the cache or pages outside the pool before
       anything runs. */
    if (check(llama_step_check_inputs(dims, host_inputs), "checking a step"))
      return 1;
    size_t n = (size_t)batch * (size_t)steps * 4;
    if (check(iolite_memcpy_h2d(device, d_tokens, tokens, n), "copying") ||
        check(iolite_memcpy_h2d(device, d_positions, positions, n),
              "copying") ||
        check(iolite_memcpy_h2d(device, d_lens, lens, (size_t)batch * 4),
              "copying") ||
        check(iolite_memcpy_h2d(device, d_after, after, (size_t)batch * 4),
              "copying"))
      return 1;
    const void *inputs[LLAMA_STEP_NUM_INPUTS] = {d_tokens, d_positions, d_lens,
                                                 d_after, d_table};
    void *outputs[LLAMA_STEP_NUM_OUTPUTS] = {d_logits};
    for (int i = 0; i < NUM_POOLS; ++i)
      inputs[5 + i] = d_pools[i]; /* the updated pools: written in place */
    if (check(llama_step_run_v(model, dims, inputs, outputs, d_workspace, NULL),
              "running a step") ||
        check(iolite_synchronize(device), "running a step") ||
        check(iolite_memcpy_d2h(device, logits, d_logits, n * (size_t)vocab),
              "reading the logits"))
      return 1;
    /* Greedy: the most likely token of each sequence's last row. */
    for (int b = 0; b < batch; ++b) {
      int64_t row = step == 0 ? b * steps + prompt_len[b] - 1 : b;
      const float *l = logits + row * vocab;
      last[b] = out[b][step] = argmax(l, vocab);
      memcpy(chosen + ((size_t)step * batch + b) * vocab, l, (size_t)vocab * 4);
    }
  }

  if (write_results("generate", batch, new_tokens, out, chosen, vocab,
                    logits_path))
    return 1;
  llama_step_unload(model);
  iolite_device_close(device);
  return 0;
}
