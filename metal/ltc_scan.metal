// A whole sequence of an LTC cell (all its ODE unfolds) in one dispatch.
// Body of mx.fast.metal_kernel("ember_ltc_scan"); the header is scan.h.
// Inputs:  u (T, I, B): mapped inputs, neuron-major; v0 (U, B); ts (T, B) per-step lengths if
//          STEP_TS, else {t}; neuron (3, U) = {f(cm), f(gleak) vleak, f(gleak) + epsilon};
//          synapse (4, D, R) = {sigma, mu, w E, w} of the neuron synapses, slot-major:
//          R receiving neurons with D slots each (pad slots have w = 0);
//          synapse_source (D, R): the presynaptic neuron of each slot; synapse_row (U): each
//          neuron's row, or -1 without synapses; the same three for the sensory synapses
//          (SD slots, SR rows, sources are inputs); params = {T, B} (uint32).
// Outputs: y (ALL_STEPS ? T : 1, OUT, B): the potentials of neurons 0 .. OUT - 1;
//          v_last (U, B); every position written.
// Template: U, I, D, R, SD, SR, UNFOLDS, STEP_TS, OUT, CHAINS (batch rows per threadgroup),
//           ALL_STEPS.
//
// A step evaluates the sensory synapses once, into the numerator and denominator terms that
// do not change within the step, then runs UNFOLDS fused semi-implicit Euler updates
//   v_j <- (cm_t v_j + num_j + sum_i a_ij E_ij) / (den_j + sum_i a_ij),
//   a_ij = w_ij sigmoid(sigma_ij (v_i - mu_ij)), cm_t = f(cm) / (t / UNFOLDS),
// each reading the previous update's potentials: the potentials are double-buffered in
// threadgroup memory, one barrier per update. Thread t owns neurons t, t + width, ... for the
// CHAINS rows and keeps their num, den in threadgroup memory too.

const uint tid = thread_position_in_threadgroup.x;
const uint width = threads_per_threadgroup.x;
const uint first_row = threadgroup_position_in_grid.y * CHAINS;
const uint steps = params[0];
const uint batch = params[1];

threadgroup float potential[2 * CHAINS * U];
threadgroup float terms[2 * CHAINS * U];

for (uint j = tid; j < U; j += width) {
  for (uint c = 0; c < CHAINS; ++c) {
    const uint row = first_row + c;
    potential[c * U + j] = row < batch ? v0[j * batch + row] : 0.0f;
  }
}
threadgroup_barrier(mem_flags::mem_threadgroup);

uint parity = 0;
for (uint step = 0; step < steps; ++step) {
  // Sensory synapses and leak: num (terms[0 ..]) and den (terms[CHAINS * U ..]) of the step.
  for (uint j = tid; j < U; j += width) {
    float num[CHAINS];
    float den[CHAINS];
    for (uint c = 0; c < CHAINS; ++c) {
      num[c] = 0.0f;
      den[c] = 0.0f;
    }
    const int srow = sensory_row[j];
    if (srow >= 0) {
      for (uint d = 0; d < SD; ++d) {
        const uint slot = d * SR + uint(srow);
        const uint k = uint(sensory_source[slot]);
        const float sigma = sensory[slot];
        const float mu = sensory[SD * SR + slot];
        const float w_erev = sensory[2 * SD * SR + slot];
        const float w = sensory[3 * SD * SR + slot];
        for (uint c = 0; c < CHAINS; ++c) {
          const uint row = first_row + c;
          const float x = row < batch ? u[(step * I + k) * batch + row] : 0.0f;
          const float s = ember_scan_sigmoid(sigma * (x - mu));
          num[c] += w_erev * s;
          den[c] += w * s;
        }
      }
    }
    for (uint c = 0; c < CHAINS; ++c) {
      const uint row = first_row + c;
      float t = ts[0];
      if (STEP_TS) {
        t = row < batch ? ts[step * batch + row] : 1.0f;
      }
      const float cm_t = neuron[j] / (t / float(UNFOLDS));
      terms[c * U + j] = neuron[U + j] + num[c];
      terms[(CHAINS + c) * U + j] = cm_t + neuron[2 * U + j] + den[c];
    }
  }

  for (uint unfold = 0; unfold < UNFOLDS; ++unfold) {
    threadgroup float* cur = potential + parity * CHAINS * U;
    threadgroup float* next = potential + (1 - parity) * CHAINS * U;
    for (uint j = tid; j < U; j += width) {
      float num[CHAINS];
      float den[CHAINS];
      for (uint c = 0; c < CHAINS; ++c) {
        num[c] = 0.0f;
        den[c] = 0.0f;
      }
      const int srow = synapse_row[j];
      if (srow >= 0) {
        for (uint d = 0; d < D; ++d) {
          const uint slot = d * R + uint(srow);
          const uint i = uint(synapse_source[slot]);
          const float sigma = synapse[slot];
          const float mu = synapse[D * R + slot];
          const float w_erev = synapse[2 * D * R + slot];
          const float w = synapse[3 * D * R + slot];
          for (uint c = 0; c < CHAINS; ++c) {
            const float s = ember_scan_sigmoid(sigma * (cur[c * U + i] - mu));
            num[c] += w_erev * s;
            den[c] += w * s;
          }
        }
      }
      for (uint c = 0; c < CHAINS; ++c) {
        const uint row = first_row + c;
        float t = ts[0];
        if (STEP_TS) {
          t = row < batch ? ts[step * batch + row] : 1.0f;
        }
        const float cm_t = neuron[j] / (t / float(UNFOLDS));
        const float top = cm_t * cur[c * U + j] + terms[c * U + j] + num[c];
        next[c * U + j] = top / (terms[(CHAINS + c) * U + j] + den[c]);
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    parity = 1 - parity;
  }

  if (ALL_STEPS || step + 1 == steps) {
    const uint out_step = ALL_STEPS ? step : 0;
    threadgroup float* now = potential + parity * CHAINS * U;
    for (uint o = tid; o < OUT; o += width) {
      for (uint c = 0; c < CHAINS; ++c) {
        const uint row = first_row + c;
        if (row < batch) {
          y[(out_step * OUT + o) * batch + row] = now[c * U + o];
        }
      }
    }
  }
}

threadgroup float* last = potential + parity * CHAINS * U;
for (uint j = tid; j < U; j += width) {
  for (uint c = 0; c < CHAINS; ++c) {
    const uint row = first_row + c;
    if (row < batch) {
      v_last[j * batch + row] = last[c * U + j];
    }
  }
}
