// Block Gibbs sampling for an RBM: k steps v -> h -> v on CHAINS chains per threadgroup.
// Body of mx.fast.metal_kernel("ember_gibbs"); the header is ember_random.h.
// Inputs:  v (chains, NV), weights (NV, NH), weights_t (NH, NV), visible_bias (NV),
//          hidden_bias (NH), params = {seed, step, chains, k} (uint32).
// Outputs: v_sample, v_mean (chains, NV), h_prob (chains, NH); every valid position written.
// Template: NV, NH (layer sizes), CHAINS (chains per threadgroup), GAUSSIAN (visible units).
// Thread t of a threadgroup owns units t, t + width, ... of each layer, for all its chains.

const uint tid = thread_position_in_threadgroup.x;
const uint width = threads_per_threadgroup.x;
const uint first_chain = threadgroup_position_in_grid.y * CHAINS;
const uint seed = params[0];
const uint step = params[1];
const uint n_chains = params[2];
const uint k = params[3];

threadgroup float v_state[CHAINS * NV];
threadgroup float h_state[CHAINS * NH];

for (uint i = tid; i < NV; i += width) {
  for (uint c = 0; c < CHAINS; ++c) {
    const uint chain = first_chain + c;
    v_state[c * NV + i] = chain < n_chains ? v[chain * NV + i] : 0.0f;
  }
}
threadgroup_barrier(mem_flags::mem_threadgroup);

for (uint t = 0; t < k; ++t) {
  const uint hidden_draw = 2 * (step + t);

  // h ~ p(h | v): column j of weights, one running sum per chain.
  for (uint j = tid; j < NH; j += width) {
    float acc[CHAINS];
    for (uint c = 0; c < CHAINS; ++c) {
      acc[c] = hidden_bias[j];
    }
    for (uint i = 0; i < NV; ++i) {
      const float w = weights[i * NH + j];
      for (uint c = 0; c < CHAINS; ++c) {
        acc[c] += v_state[c * NV + i] * w;
      }
    }
    for (uint c = 0; c < CHAINS; ++c) {
      const float u = ember_uniform(seed, first_chain + c, hidden_draw, j);
      h_state[c * NH + j] = u < ember_sigmoid(acc[c]) ? 1.0f : 0.0f;
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);

  // v ~ p(v | h): column i of weights_t (row i of weights), read coalesced.
  for (uint i = tid; i < NV; i += width) {
    float acc[CHAINS];
    for (uint c = 0; c < CHAINS; ++c) {
      acc[c] = visible_bias[i];
    }
    for (uint j = 0; j < NH; ++j) {
      const float w = weights_t[j * NV + i];
      for (uint c = 0; c < CHAINS; ++c) {
        acc[c] += h_state[c * NH + j] * w;
      }
    }
    for (uint c = 0; c < CHAINS; ++c) {
      const uint chain = first_chain + c;
      float mean;
      float sample;
      if (GAUSSIAN) {
        mean = acc[c];
        sample = mean + ember_normal(seed, chain, hidden_draw + 1, i);
      } else {
        mean = ember_sigmoid(acc[c]);
        sample = ember_uniform(seed, chain, hidden_draw + 1, i) < mean ? 1.0f : 0.0f;
      }
      v_state[c * NV + i] = sample;
      if (t + 1 == k && chain < n_chains) {
        v_mean[chain * NV + i] = mean;
      }
    }
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
}

for (uint i = tid; i < NV; i += width) {
  for (uint c = 0; c < CHAINS; ++c) {
    const uint chain = first_chain + c;
    if (chain < n_chains) {
      v_sample[chain * NV + i] = v_state[c * NV + i];
    }
  }
}

// p(h = 1 | v) of the final sample.
for (uint j = tid; j < NH; j += width) {
  float acc[CHAINS];
  for (uint c = 0; c < CHAINS; ++c) {
    acc[c] = hidden_bias[j];
  }
  for (uint i = 0; i < NV; ++i) {
    const float w = weights[i * NH + j];
    for (uint c = 0; c < CHAINS; ++c) {
      acc[c] += v_state[c * NV + i] * w;
    }
  }
  for (uint c = 0; c < CHAINS; ++c) {
    const uint chain = first_chain + c;
    if (chain < n_chains) {
      h_prob[chain * NH + j] = ember_sigmoid(acc[c]);
    }
  }
}
