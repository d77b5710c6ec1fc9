// Copyright (c) mmext contributors. All rights reserved.
// Shared by the CPU kernels of this folder.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mmext {

// exp for float that GCC vectorises (the libm call does not): Cephes' polynomial after range
// reduction by ln 2, relative error ~2 ulp. Underflow (including -inf, a masked logit) gives 0.
inline float vexp(float x) {
  const float lo = -87.3f;
  const bool under = x < lo;
  x = std::min(std::max(x, lo), 88.7f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return under ? 0.f : p * scale;
}
inline double vexp(double x) { return std::exp(x); }

}  // namespace mmext
