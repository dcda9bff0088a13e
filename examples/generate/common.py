"""What the example models share: greedy decoding with a PyTorch
reference module, and weights as MLIR constants."""

import numpy as np


def reference_generate(module, prompts, new_tokens):
    """Greedy decoding of each prompt on its own with `module` (a PyTorch
    module, [T] tokens -> [T, VOCAB] logits), recomputing the whole sequence
    every step: (tokens [B][new_tokens], logits [new_tokens][B][VOCAB] of
    the rows the tokens were chosen from)."""
    import torch

    tokens = [[] for _ in prompts]
    logits = [[None] * len(prompts) for _ in range(new_tokens)]
    with torch.no_grad():
        for b, prompt in enumerate(prompts):
            seq = list(prompt)
            for step in range(new_tokens):
                row = module(torch.tensor(seq))[-1].numpy()
                logits[step][b] = row
                seq.append(int(np.argmax(row)))
                tokens[b].append(seq[-1])
    return tokens, np.asarray(logits, np.float32)


def constant(name, array):
    """`%name = iolite.constant` of a float32 array, as hex."""
    shape = "x".join(str(d) for d in array.shape)
    data = np.ascontiguousarray(array, dtype="<f4").tobytes().hex().upper()
    return (f'  %{name} = iolite.constant dense<"0x{data}"> : '
            f"tensor<{shape}xf32>")
