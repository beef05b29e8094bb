// The LSTM tape's fused per-frame steps (rnnscope.models._bptt, the input gradient of integrated gradients), the
// part written once per instruction set.
//
// _native_kernels.cpp includes this file after _native_simd.h inside each instruction set's namespace (V, vsigmoid
// and vtanh come from there, TapeJob from the kernels' file). Each function handles a range of rows (or of records)
// and the units [u0, u1) of each, u0 a whole number of vectors: vectors of W units of the four gate blocks, the tail
// of a block loaded and stored lane by lane (masked), so a unit's numbers do not depend on its lane or on how the
// threads split the work.
//
// The equations are those of the PyTorch ops the steps replace, one vector operation for each elementwise op, in
// the same order (no fused multiply-add where PyTorch rounds twice): NaN and infinities land where PyTorch's ops put
// them; sigmoid and tanh are _native_simd.h's (NaN stays NaN, the limits at +-inf exact).

// Forward: a holds the gate pre-activations (without the point's projection when j.p0 is set); the row's projection
// p0[r] + alpha_s p1[r] (row n = s R + r) is added, then i, f, o = sigmoid, g = tanh (written back over a),
// c_t = f c_{t-1} + i g and h_t = o tanh(c_t) (times keep).
inline void tape_forward(const TapeJob& j, int64_t n0, int64_t n1, int64_t u0, int64_t u1) {
  const int64_t H = j.H, G = 4 * H;
  for (int64_t n = n0; n < n1; ++n) {
    float* a = j.a + n * G;
    const float* p0 = j.p0 ? j.p0 + (n % j.R) * G : nullptr;
    const float* p1 = j.p0 ? j.p1 + (n % j.R) * G : nullptr;
    const V::R alpha = V::set1(j.p0 ? j.points[n / j.R] : 0.0f);
    for (int64_t u = u0; u < u1; u += V::W) {
      const int nw = static_cast<int>(std::min<int64_t>(V::W, u1 - u));
      V::R x[4];
      for (int k = 0; k < 4; ++k) {
        x[k] = V::load_first(a + k * H + u, nw);
        if (p0) {  // (W_ih z0 + b) + a_s (W_ih dz), then the recurrent product already in a
          const V::R point = V::add(V::load_first(p0 + k * H + u, nw), V::mul(alpha, V::load_first(p1 + k * H + u, nw)));
          x[k] = V::add(x[k], point);
        }
      }
      const V::R i = vsigmoid(x[0]), f = vsigmoid(x[1]), o = vsigmoid(x[2]), g = vtanh(x[3]);
      const V::R c = V::add(V::mul(f, V::load_first(j.c_prev + n * H + u, nw)), V::mul(i, g));
      V::R h = V::mul(o, vtanh(c));
      if (j.keep) h = V::mul(h, V::load_first(j.keep + u, nw));
      V::store_first(a + u, i, nw);
      V::store_first(a + H + u, f, nw);
      V::store_first(a + 2 * H + u, o, nw);
      V::store_first(a + 3 * H + u, g, nw);
      V::store_first(j.c + n * H + u, c, nw);
      V::store_first(j.h + n * H + u, h, nw);
    }
  }
}

// Backward of row n, units [u0, u1): from the gates in a, c_t, c_{t-1}, dh (times keep) and dc (carried from
// t + 1): tc = tanh(c_t), dc += dh o (1 - tc^2), the gates' gradients after their nonlinearity (i: dc g,
// f: dc c_{t-1}, o: dh tc, g: dc i) times their derivatives (s - s^2 for the sigmoid gates, 1 - g^2 for g) written
// over a, dc *= f for the frame before; acc (a record's row, or null) += w times the gates' gradients.
RNNSCOPE_INLINE void tape_back_row(const TapeJob& j, int64_t n, int64_t u0, int64_t u1, float* acc, float w) {
  const int64_t H = j.H;
  float* a = j.a + n * 4 * H;
  const V::R one = V::set1(1.0f), weight = V::set1(w);
  for (int64_t u = u0; u < u1; u += V::W) {
    const int nw = static_cast<int>(std::min<int64_t>(V::W, u1 - u));
    const V::R i = V::load_first(a + u, nw), f = V::load_first(a + H + u, nw);
    const V::R o = V::load_first(a + 2 * H + u, nw), g = V::load_first(a + 3 * H + u, nw);
    V::R dh = V::load_first(j.dh + n * H + u, nw);
    if (j.keep) dh = V::mul(dh, V::load_first(j.keep + u, nw));
    const V::R tc = vtanh(V::load_first(j.c + n * H + u, nw));
    float* dc_p = j.dc + n * H + u;
    const V::R dc = V::add(V::load_first(dc_p, nw), V::mul(V::mul(dh, o), V::sub(one, V::mul(tc, tc))));
    V::R d[4];
    d[0] = V::mul(V::sub(i, V::mul(i, i)), V::mul(dc, g));
    d[1] = V::mul(V::sub(f, V::mul(f, f)), V::mul(dc, V::load_first(j.c_prev + n * H + u, nw)));
    d[2] = V::mul(V::sub(o, V::mul(o, o)), V::mul(dh, tc));
    d[3] = V::mul(V::sub(one, V::mul(g, g)), V::mul(dc, i));
    V::store_first(dc_p, V::mul(dc, f), nw);
    for (int k = 0; k < 4; ++k) {
      V::store_first(a + k * H + u, d[k], nw);
      if (acc) V::store_first(acc + k * H + u, V::add(V::load_first(acc + k * H + u, nw), V::mul(weight, d[k])), nw);
    }
  }
}

// Rows i0..i1 (no step sum), or records i0..i1 with every point s of each (rows s R + r, in the order of s: the
// sums do not depend on the split) summed into the record's row of acc.
inline void tape_backward(const TapeJob& j, int64_t i0, int64_t i1, int64_t u0, int64_t u1) {
  for (int64_t r = i0; r < i1; ++r) {
    if (!j.acc) {
      tape_back_row(j, r, u0, u1, nullptr, 0.0f);
      continue;
    }
    for (int64_t s = 0; s < j.S; ++s) tape_back_row(j, s * j.R + r, u0, u1, j.acc + r * 4 * j.H, j.points[s]);
  }
}
