// Copyright (c) mmext contributors. All rights reserved.
// Exact per-row top-k selection written straight into an additive attention mask (0 kept,
// -inf dropped): the CPU selection of k-NN attention (KVT). torch.topk sorts (value, index)
// pairs with nth_element; a threshold found by bisection needs only a few vectorised counting
// passes over each row and no index bookkeeping.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include "kernel_utils.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <vector>

namespace {

// The row loops below read only locals and constants: a float they reach through a pointer or a
// lambda's by-reference capture may alias the row being written, so GCC reloads it after every
// store and leaves the loop scalar (3x slower here).
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int32_t count_at_least(const float* x, int64_t n, float t) {
  int32_t c = 0;
  for (int64_t j = 0; j < n; ++j) c += x[j] >= t;
  return c;
}

// Finds t with exactly k values >= t by bisection over the value range. Fails (the caller then
// selects by index) when the k-th and (k+1)-th largest values are equal, or the row holds NaN
// or +-inf.
std::optional<float> bisect_threshold(const float* x, int64_t n, int64_t k) {
  // a non-finite sum: NaN or +-inf in the row (or values near FLT_MAX), left to the slow path
  if (!std::isfinite(mmext::lane_sum(x, n))) return std::nullopt;
  float lo = mmext::lane_min(x, n), hi = mmext::lane_max(x, n);
  if (count_at_least(x, n, hi) == k) return hi;
  // Invariant: count(x >= lo) > k > count(x >= hi). (Interpolating the counts instead of
  // bisecting was tried: no faster on attention logits.)
  for (int it = 0; it < 64; ++it) {
    const float mid = lo + (hi - lo) * 0.5f;
    if (!(mid > lo && mid < hi)) return std::nullopt;  // no float left between them: a tie
    const int32_t c = count_at_least(x, n, mid);
    if (c == k) return mid;
    if (c > k) lo = mid; else hi = mid;
  }
  return std::nullopt;
}

// The slow path: NaN ranks above everything (as in torch.topk), ties keep the lower index.
void select_by_index(const float* x, int64_t n, int64_t k, std::vector<int64_t>& order,
                     float* out) {
  std::iota(order.begin(), order.end(), 0);
  auto before = [x](int64_t a, int64_t b) {
    const bool na = std::isnan(x[a]), nb = std::isnan(x[b]);
    if (na != nb) return na;
    if (!na && x[a] != x[b]) return x[a] > x[b];
    return a < b;
  };
  std::nth_element(order.begin(), order.begin() + (k - 1), order.end(), before);
  std::fill(out, out + n, -std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < k; ++j) out[order[j]] = 0.f;
}

}  // namespace

// In place: each row is read while its threshold is searched, then overwritten by its mask.
torch::Tensor topk_mask_(torch::Tensor x, int64_t k) {
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == at::kFloat && x.dim() > 0 &&
                  x.is_contiguous(),
              "topk_mask_ expects a contiguous float32 CPU tensor with at least one dim, got ",
              x.toString(), " of shape ", x.sizes());
  const int64_t n = x.size(-1);
  TORCH_CHECK(k >= 1 && k <= n, "k must be in [1, ", n, "], got ", k);
  float* data = x.data_ptr<float>();
  const int64_t rows = x.numel() / n;
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> order(n);
    std::vector<float> mask(n);
    for (int64_t r = begin; r < end; ++r) {
      float* row = data + r * n;
      if (const auto t = bisect_threshold(row, n, k)) {
        for (int64_t j = 0; j < n; ++j) row[j] = row[j] >= *t ? 0.f : kNegInf;
      } else {
        select_by_index(row, n, k, order, mask.data());
        std::copy(mask.begin(), mask.end(), row);
      }
    }
  });
  return x;
}

// Softmax over each row's k largest entries (the others get probability 0), in one pass per
// row after the threshold search: the forward of k-NN attention's weights without a mask tensor.
torch::Tensor topk_softmax(torch::Tensor x, int64_t k) {
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == at::kFloat && x.dim() > 0 &&
                  x.is_contiguous(),
              "topk_softmax expects a contiguous float32 CPU tensor with at least one dim, got ",
              x.toString(), " of shape ", x.sizes());
  const int64_t n = x.size(-1);
  TORCH_CHECK(k >= 1 && k <= n, "k must be in [1, ", n, "], got ", k);
  auto out = torch::empty_like(x);
  const float* in = x.data_ptr<float>();
  float* data = out.data_ptr<float>();
  const int64_t rows = x.numel() / n;
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> order(n);
    for (int64_t r = begin; r < end; ++r) {
      const float* row = in + r * n;
      float* p = data + r * n;
      if (const auto t = bisect_threshold(row, n, k)) {
        for (int64_t j = 0; j < n; ++j) p[j] = row[j] >= *t ? row[j] : kNegInf;
      } else {  // ties / NaN / inf: keep exactly k by index, as topk_mask_
        select_by_index(row, n, k, order, p);
        for (int64_t j = 0; j < n; ++j) p[j] = p[j] == 0.f ? row[j] : kNegInf;
      }
      const float mx = mmext::lane_max(p, n);
      for (int64_t j = 0; j < n; ++j) p[j] = mmext::vexp(p[j] - mx);  // vectorised
      const float inv = 1.f / mmext::lane_sum(p, n);
      for (int64_t j = 0; j < n; ++j) p[j] *= inv;
    }
  });
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("topk_mask_", &topk_mask_, "exact per-row top-k, in place, as an additive 0/-inf mask");
  m.def("parallel_width", &mmext::parallel_width, "threads a parallel region runs on");
  m.def("topk_softmax", &topk_softmax, "softmax over each row's exact top-k (others 0)");
}
