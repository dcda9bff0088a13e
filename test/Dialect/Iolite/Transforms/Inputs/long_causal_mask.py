"""Prints decomposed attention over N keys whose causal mask is
compare(PRED, row ids [N, 1], column ids [1, N]) with a select to -inf:
the form of bench/models.py, too large to fold at N = 4096."""

import sys

n, pred = int(sys.argv[1]), sys.argv[2]
t = f"tensor<1x2x{n}x64xf32>"
s = f"tensor<1x2x{n}x{n}xf32>"
rows = ", ".join(f"[{i}]" for i in range(n))
cols = ", ".join(str(i) for i in range(n))
print(f"""func.func @attention(%q: {t}, %k: {t}, %v: {t}) -> {t} {{
  %s = iolite.matmul %q, %k {{transpose_rhs}} : {t}, {t}
  %c = iolite.constant dense<0.125> : tensor<f32>
  %ss = iolite.mul %s, %c : {s}, tensor<f32>
  %i = iolite.constant dense<[{rows}]> : tensor<{n}x1xi32>
  %j = iolite.constant dense<[[{cols}]]> : tensor<1x{n}xi32>
  %m = iolite.compare {pred} %i, %j : tensor<{n}x1xi32>, tensor<1x{n}xi32>
  %ninf = iolite.constant dense<0xFF800000> : tensor<f32>
  %w = iolite.select %m, %ss, %ninf : tensor<{n}x{n}xi1>, {s}, tensor<f32>
  %p = iolite.softmax %w {{axis = -1 : i64}} : {s}
  %o = iolite.matmul %p, %v : {s}, {t}
  return %o : {t}
}}""")
