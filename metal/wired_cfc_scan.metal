// A whole sequence of a wired CfC cell in one dispatch, its layers as a wavefront.
// Body of mx.fast.metal_kernel("ember_wired_cfc_scan"); the header is scan.h.
// Inputs:  projected (T, B, HEADS * U): the input's share of the heads, bias included;
//          h0 (B, U); hidden_t (U, HEADS * U): the masked block matrix on the state;
//          ts (T, B) per-step elapsed times if STEP_TS, else {t} (the time folded in the heads);
//          pure (2, U) = {w_tau, A} in pure mode (else one unused value);
//          offsets (LAYERS + 1): where each layer starts in the state; motor (OUT): the
//          state positions of the outputs; params = {T, B} (uint32).
// Outputs: y (ALL_STEPS ? T : 1, B, OUT), h_last (B, U); every position written.
// Template: U, HEADS (1 pure, 3 folded time, 4 per-step time), MODE (0 default, 1 no_gate,
//           2 pure), STEP_TS, LAYERS, OUT, CHAINS (batch rows per threadgroup), ALL_STEPS.
//
// Wave w moves layer l to step w - l (when 0 <= w - l < T); every layer reads the state of
// wave w - 1 only, so all units of a wave update at once. Layer l's heads read rows
// offsets[l - 1] .. offsets[l + 1] of hidden_t (its input layer and itself; layer 0 only
// itself): the other rows of its columns are zero. The state is double-buffered in threadgroup
// memory: one barrier per wave. Thread t owns units t, t + width, ... for the CHAINS rows.

const uint tid = thread_position_in_threadgroup.x;
const uint width = threads_per_threadgroup.x;
const uint first_row = threadgroup_position_in_grid.y * CHAINS;
const uint steps = params[0];
const uint batch = params[1];
const uint waves = steps + LAYERS - 1;
const uint row_width = HEADS * U;

threadgroup float state[2 * CHAINS * U];

for (uint j = tid; j < U; j += width) {
  for (uint c = 0; c < CHAINS; ++c) {
    const uint row = first_row + c;
    state[c * U + j] = row < batch ? h0[row * U + j] : 0.0f;
  }
}
threadgroup_barrier(mem_flags::mem_threadgroup);

for (uint w = 0; w < waves; ++w) {
  threadgroup float* cur = state + (w % 2) * CHAINS * U;
  threadgroup float* next = state + ((w + 1) % 2) * CHAINS * U;
  for (uint j = tid; j < U; j += width) {
    uint layer = 0;
    while (layer + 1 < LAYERS && j >= uint(offsets[layer + 1])) {
      ++layer;
    }
    if (w < layer || w - layer >= steps) {
      for (uint c = 0; c < CHAINS; ++c) {
        next[c * U + j] = cur[c * U + j];
      }
      continue;
    }
    const uint step = w - layer;
    float z[HEADS][CHAINS];
    for (uint c = 0; c < CHAINS; ++c) {
      const uint row = first_row + c;
      for (uint k = 0; k < HEADS; ++k) {
        z[k][c] = row < batch ? projected[(step * batch + row) * row_width + k * U + j] : 0.0f;
      }
    }
    const uint lo = layer == 0 ? 0 : uint(offsets[layer - 1]);
    const uint hi = uint(offsets[layer + 1]);
    for (uint i = lo; i < hi; ++i) {
      for (uint k = 0; k < HEADS; ++k) {
        const float weight = hidden_t[i * row_width + k * U + j];
        for (uint c = 0; c < CHAINS; ++c) {
          z[k][c] += cur[c * U + i] * weight;
        }
      }
    }
    const float w_tau = MODE == 2 ? pure[j] : 0.0f;
    const float a = MODE == 2 ? pure[U + j] : 0.0f;
    for (uint c = 0; c < CHAINS; ++c) {
      const uint row = first_row + c;
      float t = ts[0];
      if (STEP_TS) {
        t = row < batch ? ts[step * batch + row] : 0.0f;
      }
      float heads[HEADS];
      for (uint k = 0; k < HEADS; ++k) {
        heads[k] = z[k][c];
      }
      next[c * U + j] = ember_cfc_update<MODE, HEADS>(heads, t, w_tau, a);
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);

  if (w + 1 >= LAYERS && (ALL_STEPS || w + 1 == waves)) {
    const uint out_step = ALL_STEPS ? w + 1 - LAYERS : 0;
    for (uint o = tid; o < OUT; o += width) {
      for (uint c = 0; c < CHAINS; ++c) {
        const uint row = first_row + c;
        if (row < batch) {
          y[(out_step * batch + row) * OUT + o] = next[c * U + uint(motor[o])];
        }
      }
    }
  }
}

threadgroup float* last = state + (waves % 2) * CHAINS * U;
for (uint j = tid; j < U; j += width) {
  for (uint c = 0; c < CHAINS; ++c) {
    const uint row = first_row + c;
    if (row < batch) {
      h_last[row * U + j] = last[c * U + j];
    }
  }
}
