// Helpers of the masked-recurrence kernels (the `header` of wired_cfc_scan.metal and
// ltc_scan.metal in mx.fast.metal_kernel).

inline float ember_scan_sigmoid(float x) {
  return 1.0f / (1.0f + metal::exp(-x));
}

// The CfC update of one unit from its heads z (see ember_mlx.nn.rnn.cfc_cell.cfc_update).
// MODE 0 "default", 1 "no_gate": z = {f1, f2, gate} with the time folded into the gate, or
// {f1, f2, t_a, t_b} (HEADS == 4) with gate = t_a * t + t_b. MODE 2 "pure": z = {f1}, with
// w_tau and a the unit's parameters.
template <int MODE, int HEADS>
inline float ember_cfc_update(const thread float* z, float t, float w_tau, float a) {
  if (MODE == 2) {
    const float decay = (metal::fabs(w_tau) + metal::fabs(z[0])) * t;
    return a - a * metal::exp(-decay) * z[0];
  }
  const float f1 = metal::tanh(z[0]);
  const float f2 = metal::tanh(z[1]);
  const float g = ember_scan_sigmoid(HEADS == 4 ? z[2] * t + z[3] : z[2]);
  return MODE == 1 ? f1 + g * f2 : f1 + g * (f2 - f1);
}
