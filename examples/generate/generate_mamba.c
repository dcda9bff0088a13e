/* generate_mamba.c - greedy generation with a carried recurrent state.

   Runs the mamba_step bundle (examples/generate/mamba.py): each prompt's
   prefill on its own (a state must not see another prompt's padding),
   writing its final states straight into its slot of the batch's state
   buffers, then one decode step per new token for the whole batch, from
   the states of the step before into the other buffer of a pair.

     generate_mamba DEVICE BUNDLE_DIR NEW_TOKENS LOGITS_OUT PROMPT...

   As generate.c: prints one line per sequence with its new tokens, and
   writes the logits the tokens were chosen from to LOGITS_OUT (float32
   [NEW_TOKENS][batch][vocab]). */
#include "mamba_step.h"

#include "generate_common.h"

#define NUM_STATES (MAMBA_STEP_NUM_INPUTS - 1)

static int check(iolite_status_t s, const char *what) {
  return check_status("generate_mamba", s, what, mamba_step_load_error());
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: generate_mamba DEVICE BUNDLE_DIR NEW_TOKENS "
                    "LOGITS_OUT PROMPT...\n");
    return 2;
  }
  const char *device_name = argv[1], *bundle_dir = argv[2];
  long new_tokens = strtol(argv[3], NULL, 10);
  const char *logits_path = argv[4];
  int batch = argc - 5;
  if (batch > MAX_BATCH || new_tokens < 1 || new_tokens > MAX_NEW_TOKENS) {
    fprintf(stderr, "generate_mamba: 1..%d prompts and 1..%d new tokens\n",
            MAX_BATCH, MAX_NEW_TOKENS);
    return 2;
  }
  int32_t prompts[MAX_BATCH][MAX_PROMPT];
  int64_t prompt_len[MAX_BATCH], longest;
  if (parse_prompts("generate_mamba", batch, argv + 5, prompts, prompt_len,
                    &longest))
    return 2;
  int64_t vocab = mamba_step_output_0_shape[2];

  iolite_device_t device;
  if (check(iolite_device_open(device_name, 0, &device), "opening the device"))
    return 1;
  char weights[4096];
  snprintf(weights, sizeof(weights), "%s/%s", bundle_dir,
           MAMBA_STEP_WEIGHTS_FILE);
  mamba_step_model *model;
  if (check(mamba_step_load_from(
                device, MAMBA_STEP_WEIGHTS_BYTES ? weights : NULL, &model),
            "loading the bundle"))
    return 1;

  /* One sequence's bytes of each state (input 1 + i), at batch 1. */
  int64_t one[MAMBA_STEP_NUM_DIMS];
  one[MAMBA_STEP_DIM_BATCH] = 1;
  one[MAMBA_STEP_DIM_STEPS] = 1;
  size_t state_bytes[NUM_STATES];
  /* Two buffers per state for the whole batch (the step reads one and
     writes the other), and zeros to start a sequence from. */
  void *states[2][NUM_STATES], *zeros[NUM_STATES];
  for (int i = 0; i < NUM_STATES; ++i) {
    state_bytes[i] = mamba_step_input_bytes(1 + i, one);
    if (state_bytes[i] % MAMBA_STEP_BUFFER_ALIGNMENT) {
      fprintf(stderr,
              "generate_mamba: a state of %zu bytes breaks the "
              "buffers' alignment\n",
              state_bytes[i]);
      return 1;
    }
    states[0][i] = device_alloc(device, batch * state_bytes[i]);
    states[1][i] = device_alloc(device, batch * state_bytes[i]);
    zeros[i] = device_alloc(device, state_bytes[i]);
    if (!states[0][i] || !states[1][i] || !zeros[i])
      return check(IOLITE_ERROR_OUT_OF_MEMORY, "allocating the states");
  }
  size_t most = (size_t)(longest > batch ? longest : batch);
  void *d_tokens = device_alloc(device, most * 4);
  void *d_logits = device_alloc(device, most * (size_t)vocab * 4);
  void *d_workspace = device_alloc(device, MAMBA_STEP_WORKSPACE_SIZE);
  float *logits = malloc(most * (size_t)vocab * 4);
  float *chosen = malloc((size_t)new_tokens * batch * (size_t)vocab * 4);
  if (!d_tokens || !d_logits || !d_workspace || !logits || !chosen)
    return check(IOLITE_ERROR_OUT_OF_MEMORY, "allocating");

  int32_t out[MAX_BATCH][MAX_NEW_TOKENS], last[MAX_BATCH];
  int cur = 0;
  for (long step = 0; step < new_tokens; ++step) {
    /* Prefill: one call per prompt (batch 1), its states written into its
       slot of buffer 0. Decode: the whole batch, buffer cur -> 1 - cur. */
    int calls = step == 0 ? batch : 1;
    for (int call = 0; call < calls; ++call) {
      int64_t dims[MAMBA_STEP_NUM_DIMS];
      dims[MAMBA_STEP_DIM_BATCH] = step == 0 ? 1 : batch;
      dims[MAMBA_STEP_DIM_STEPS] = step == 0 ? prompt_len[call] : 1;
      const int32_t *tokens = step == 0 ? prompts[call] : last;
      size_t rows =
          (size_t)(dims[MAMBA_STEP_DIM_BATCH] * dims[MAMBA_STEP_DIM_STEPS]);
      const void *inputs[MAMBA_STEP_NUM_INPUTS] = {d_tokens};
      void *outputs[MAMBA_STEP_NUM_OUTPUTS] = {d_logits};
      for (int i = 0; i < NUM_STATES; ++i) {
        inputs[1 + i] = step == 0 ? zeros[i] : states[cur][i];
        outputs[1 + i] = step == 0
                             ? (char *)states[0][i] + call * state_bytes[i]
                             : states[1 - cur][i];
      }
      const void *host_inputs[MAMBA_STEP_NUM_INPUTS] = {tokens};
      if (check(mamba_step_check_inputs(dims, host_inputs),
                "checking a step") ||
          check(iolite_memcpy_h2d(device, d_tokens, tokens, rows * 4),
                "copying the tokens") ||
          check(
              mamba_step_run_v(model, dims, inputs, outputs, d_workspace, NULL),
              "running a step") ||
          check(iolite_synchronize(device), "running a step") ||
          check(iolite_memcpy_d2h(device, logits, d_logits,
                                  rows * (size_t)vocab * 4),
                "reading the logits"))
        return 1;
      /* The last row of each sequence in this call. */
      for (int s = 0; s < (step == 0 ? 1 : batch); ++s) {
        int b = step == 0 ? call : s;
        const float *row = logits + (step == 0 ? prompt_len[b] - 1 : s) * vocab;
        last[b] = out[b][step] = argmax(row, vocab);
        memcpy(chosen + ((size_t)step * batch + b) * vocab, row,
               (size_t)vocab * 4);
      }
    }
    if (step > 0)
      cur = 1 - cur;
  }

  if (write_results("generate_mamba", batch, new_tokens, out, chosen, vocab,
                    logits_path))
    return 1;
  mamba_step_unload(model);
  iolite_device_close(device);
  return 0;
}
