"""Reshape, transpose, concat, slice, broadcast and gather against NumPy."""

import numpy as np
import pytest

from iolite_testing import Batch, round_to, tensor_type as T

rng = np.random.default_rng(3)
BATCH = Batch("data_movement")

for dt in ("f32", "bf16", "i64", "i1"):
    x = round_to(rng.integers(-9, 9, (2, 3, 4)), dt)
    BATCH.add(f"reshape_{dt}",
              f"%r = iolite.reshape %x0 : {T(x.shape, dt)} -> {T((4, 6), dt)}",
              [(x, dt)], [("r", T((4, 6), dt))], [x.reshape(4, 6)])
    BATCH.add(f"transpose_{dt}",
              f"%r = iolite.transpose %x0 [2, 0, 1] : {T(x.shape, dt)}",
              [(x, dt)], [("r", T((4, 2, 3), dt))], [x.transpose(2, 0, 1)])
    y = round_to(rng.integers(-9, 9, (2, 1, 4)), dt)
    z = round_to(rng.integers(-9, 9, (2, 2, 4)), dt)
    BATCH.add(f"concat_{dt}",
              f"%r = iolite.concat %x0, %x1, %x2 {{axis = -2 : i64}} : "
              f"{T(x.shape, dt)}, {T(y.shape, dt)}, {T(z.shape, dt)}",
              [(x, dt), (y, dt), (z, dt)], [("r", T((2, 6, 4), dt))],
              [np.concatenate([x, y, z], -2)])
    BATCH.add(f"slice_{dt}",
              f"%r = iolite.slice %x0 [0, 1, 0] to [2, 3, 4] step [1, 1, 3] : "
              f"{T(x.shape, dt)}", [(x, dt)], [("r", T((2, 2, 2), dt))],
              [x[0:2, 1:3, 0:4:3]])
    BATCH.add(f"broadcast_{dt}",
              f"%r = iolite.broadcast %x0 : {T(y.shape, dt)} -> "
              f"{T((3, 2, 5, 4), dt)}", [(y, dt)], [("r", T((3, 2, 5, 4), dt))],
              [np.broadcast_to(y, (3, 2, 5, 4))])

BATCH.add("reshape_scalar",
          "%a = iolite.reshape %x0 : tensor<1x1xf32> -> tensor<f32>\n"
          "%r = iolite.reshape %a : tensor<f32> -> tensor<1xf32>",
          [(np.array([[2.5]]), "f32")], [("r", T((1,), "f32"))],
          [np.array([2.5])])

# Gather: negative indices count from the end; out-of-range ones read the
# nearest valid row.
table = round_to(rng.standard_normal((7, 5)), "f16")
for idt in ("i64", "i32"):
    ids = np.array([[0, 6, -1], [-7, 9, -12]], np.int64)
    clamped = np.clip(ids, -7, 6) % 7
    BATCH.add(f"gather_axis0_{idt}",
              f"%r = iolite.gather %x0[%x1] {{axis = 0 : i64}} : "
              f"{T(table.shape, 'f16')}, {T(ids.shape, idt)}",
              [(table, "f16"), (ids, idt)], [("r", T((2, 3, 5), "f16"))],
              [table[clamped]])
ids1 = np.array([4, 0, 2, -2], np.int64)
data = round_to(rng.standard_normal((3, 5, 2)), "f32")
BATCH.add("gather_axis1",
          f"%r = iolite.gather %x0[%x1] {{axis = 1 : i64}} : "
          f"{T(data.shape, 'f32')}, {T(ids1.shape, 'i64')}",
          [(data, "f32"), (ids1, "i64")], [("r", T((3, 4, 2), "f32"))],
          [np.take(data, ids1 % 5, axis=1)])


@pytest.mark.parametrize("case", BATCH.names())
def test_data_movement(case):
    BATCH.check(case)
