// Counter-based random numbers for ember_mlx kernels (the `header` of mx.fast.metal_kernel).
//
// Threefry-2x32 with 20 rounds (Salmon et al., SC 2011): the counter (unit, draw) encrypted
// under the key (seed, chain). Every thread makes its own numbers with no shared state, and
// ember_mlx/kernels/rng.py computes the very same bits with mx integer ops on every backend.

inline uint ember_rotl(uint x, uint r) {
  return (x << r) | (x >> (32 - r));
}

// Four Threefry rounds with rotations r0..r3, then key injection number s.
inline void ember_threefry_block(
    thread uint& x0, thread uint& x1, const thread uint* schedule, uint s,
    uint r0, uint r1, uint r2, uint r3) {
  x0 += x1; x1 = ember_rotl(x1, r0) ^ x0;
  x0 += x1; x1 = ember_rotl(x1, r1) ^ x0;
  x0 += x1; x1 = ember_rotl(x1, r2) ^ x0;
  x0 += x1; x1 = ember_rotl(x1, r3) ^ x0;
  x0 += schedule[s % 3];
  x1 += schedule[(s + 1) % 3] + s;
}

inline uint2 ember_threefry2x32(uint key0, uint key1, uint counter0, uint counter1) {
  const uint schedule[3] = {key0, key1, key0 ^ key1 ^ 0x1BD11BDAu};
  uint x0 = counter0 + key0;
  uint x1 = counter1 + key1;
  ember_threefry_block(x0, x1, schedule, 1, 13, 15, 26, 6);
  ember_threefry_block(x0, x1, schedule, 2, 17, 29, 16, 24);
  ember_threefry_block(x0, x1, schedule, 3, 13, 15, 26, 6);
  ember_threefry_block(x0, x1, schedule, 4, 17, 29, 16, 24);
  ember_threefry_block(x0, x1, schedule, 5, 13, 15, 26, 6);
  return uint2(x0, x1);
}

// The top 24 bits times 2^-24: exactly representable, so every backend gets the same float.
inline float ember_bits_to_uniform(uint bits) {
  return float(bits >> 8) * 5.9604644775390625e-8f;
}

inline float ember_uniform(uint seed, uint chain, uint draw, uint unit) {
  return ember_bits_to_uniform(ember_threefry2x32(seed, chain, unit, draw).x);
}

// Box-Muller on the two words of one block; 1 - u0 lies in (0, 1], so the log is finite.
inline float ember_normal(uint seed, uint chain, uint draw, uint unit) {
  uint2 bits = ember_threefry2x32(seed, chain, unit, draw);
  float radius = metal::sqrt(-2.0f * metal::log(1.0f - ember_bits_to_uniform(bits.x)));
  return radius * metal::cos(6.283185307179586f * ember_bits_to_uniform(bits.y));
}

inline float ember_sigmoid(float x) {
  return 1.0f / (1.0f + metal::exp(-x));
}
