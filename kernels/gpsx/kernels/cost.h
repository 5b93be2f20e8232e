// Cost terms with analytic derivatives and the reference's cost expansion along samples
// (cbfinn/gps cost_action / cost_state / cost_fk / cost_sum / cost_utils and
// Algorithm._eval_cost), batched over conditions and samples.
//
// Joint vector y = [x; u] (dXU = dX + dU). A step's expansion is l, g = [lx; lu] (dXU) and
// the full Hessian H (dXU x dXU) with H[:dX,:dX] = lxx, H[dX:,dX:] = luu, H[dX:,:dX] = lux.
// Every term ACCUMULATES weight * (its l, g, H), so a cost is a flat list of terms
// (CostSum = the list, a CostState with several data types = one term per block).
#pragma once

#include <cmath>
#include <cstdint>

#include "gpsx/kernels/hd.h"

namespace gpsx::cost {

enum class Ramp : std::int32_t { kConstant = 1, kLinear = 2, kQuadratic = 3, kFinalOnly = 4 };
enum class Norm : std::int32_t { kL1L2 = 0, kLogL2 = 1 };  // evall1l2term / evallogl2term
enum class TermKind : std::int32_t { kAction = 0, kState = 1, kFK = 2 };

// get_ramp_multiplier(ramp, T, final_multiplier)[t]. The linear and quadratic ramps are
// float32 in the reference (pitfall 14): (t+1)/T and its square are rounded to single
// precision, and the final-step product is stored back into that float32 array.
template <class T>
GPS_HD T ramp_multiplier(Ramp ramp, int t, int steps, T final_multiplier) {
  const bool last = (t == steps - 1);
  if (ramp == Ramp::kLinear || ramp == Ramp::kQuadratic) {
    float r = static_cast<float>(t + 1) / static_cast<float>(steps);
    if (ramp == Ramp::kQuadratic) r = r * r;
    if (last) r = static_cast<float>(static_cast<double>(r) * static_cast<double>(final_multiplier));
    return static_cast<T>(r);
  }
  const T base = (ramp == Ramp::kConstant) ? T(1) : (last ? T(1) : T(0));
  return last ? base * final_multiplier : base;
}

GPS_HD GPS_INLINE bool valid_ramp(Ramp r) {
  return r == Ramp::kConstant || r == Ramp::kLinear || r == Ramp::kQuadratic ||
         r == Ramp::kFinalOnly;
}

// Norm penalty on a distance d (Dd) with per-dimension weights wp (Dd): value, gradient
// d1 (Dd) and Hessian d2 (Dd x Dd) with respect to d. Both norms use (d*wp) inside the
// l1 part and (d*sqrt(wp)) inside the l2 part (pitfall 15):
//   l1l2: 0.5 l2 sum(wp d^2) + l1 sqrt(alpha + sum((wp d)^2))
//   logl2: 0.5 l2 sum(wp d^2) + 0.5 l1 log(alpha + sum((wp d)^2))
// The logl2 Hessian keeps the reference's missing factor 2 on its rank-one l1 part.
template <class T>
GPS_HD T norm_penalty(Norm norm, int Dd, const T* wp, const T* d, T l1, T l2, T alpha,
                      T* d1,   // (Dd)
                      T* d2) { // (Dd x Dd)
  using std::log;
  using std::sqrt;
  T sum_l2 = T(0), sum_l1 = T(0);
  for (int i = 0; i < Dd; ++i) {
    const T dsclsq = d[i] * sqrt(wp[i]);
    const T dscl = d[i] * wp[i];
    sum_l2 += dsclsq * dsclsq;
    sum_l1 += dscl * dscl;
  }
  const T inner = alpha + sum_l1;
  const bool log_norm = (norm == Norm::kLogL2);
  const T psq = log_norm ? inner : sqrt(inner);  // the reference's "psq"
  const T l = T(0.5) * sum_l2 * l2 + (log_norm ? T(0.5) * log(inner) : psq) * l1;
  // rank-one l1 curvature: / psq^3 (exact for l1l2), / psq^2 (logl2, factor 2 missing)
  const T rank_one_div = log_norm ? psq * psq : psq * psq * psq;
  for (int i = 0; i < Dd; ++i) {
    const T dscls_i = d[i] * (wp[i] * wp[i]);
    d1[i] = d[i] * wp[i] * l2 + dscls_i / psq * l1;
    for (int j = 0; j < Dd; ++j) {
      const T dscls_j = d[j] * (wp[j] * wp[j]);
      T h = -(dscls_i * dscls_j) / rank_one_div;
      if (i == j) h += wp[j] * wp[j] / psq;
      d2[i * Dd + j] = l1 * h + (i == j ? l2 * wp[i] : T(0));
    }
  }
  return l;
}

// Chain rule from d-space to state space, accumulated with `scale`:
//   lx (Dx) += scale * J^T d1,   lxx (Dx x Dx) += scale * (J^T d2 J + 0.5 (S + S^T)),
// S = sum_a d1[a] Jdd[a] (J is Dd x Dx, Jdd is Dd x Dx x Dx or null for zero).
template <class T>
GPS_HD void chain_rule(int Dd, int Dx, const T* J, int ldj, const T* Jdd, const T* d1,
                       const T* d2, T scale, T* lx, T* lxx, int ldlxx) {
  for (int i = 0; i < Dx; ++i) {
    T acc = T(0);
    for (int a = 0; a < Dd; ++a) acc += J[a * ldj + i] * d1[a];
    lx[i] += scale * acc;
  }
  for (int i = 0; i < Dx; ++i)
    for (int j = 0; j < Dx; ++j) {
      T acc = T(0);
      for (int a = 0; a < Dd; ++a) {
        const T ja = J[a * ldj + i];
        T row = T(0);
        for (int b = 0; b < Dd; ++b) row += d2[a * Dd + b] * J[b * ldj + j];
        acc += ja * row;
      }
      if (Jdd) {
        T sec = T(0);
        for (int a = 0; a < Dd; ++a)
          sec += d1[a] * (Jdd[(a * Dx + i) * Dx + j] + Jdd[(a * Dx + j) * Dx + i]);
        acc += T(0.5) * sec;
      }
      lxx[i * ldlxx + j] += scale * acc;
    }
}

// One term of a cost. Parameters live in a flat array: [weights (dim), target (dim)]
// starting at `params` (CostAction: weights = wu, no target).
template <class T>
struct Term {
  TermKind kind = TermKind::kAction;
  T weight = T(1);              // CostSum weight
  Ramp ramp = Ramp::kConstant;
  T final_multiplier = T(1);    // wp_final_multiplier
  Norm norm = Norm::kL1L2;
  T l1 = T(0), l2 = T(1), alpha = T(1e-2);
  int offset = 0;        // State: first state index of the block; FK: of the end-effector points
  int dim = 0;           // block length (Action: dU)
  int joint_offset = 0;  // FK: first state index of the JOINT_ANGLES block (pitfall 16)
  int joints = 0;        // FK: joint count = Jacobian columns
  int params = 0;        // offset of this term's parameters in the condition's params
};

// A whole cost: `n_terms` terms summed. Condition m reads its parameters at
// params + m * param_stride (stride 0: all conditions share them, e.g. one target).
template <class T>
struct CostModel {
  int n_terms = 0;
  const Term<T>* terms = nullptr;  // (n_terms)
  const T* params = nullptr;       // (M x param_stride) or (param_count) when stride is 0
  int param_stride = 0;
  int max_dim = 0;     // largest Term::dim (scratch sizing)
  int jac_rows = 0;    // per-step end-effector Jacobian (jac_rows x jac_cols) read by FK terms
  int jac_cols = 0;
};

// Scratch elements for eval_step: wp_t, d, d1 (max_dim each) and d2 (max_dim^2).
template <class T>
GPS_HD GPS_INLINE int step_scratch_size(const CostModel<T>& c) {
  return 3 * c.max_dim + c.max_dim * c.max_dim;
}

// Accumulates the expansion of step t (of `steps`) of one sample into l, g (dXU), H
// (dXU x dXU, leading dimension ldh). `jac` is the step's end-effector Jacobian
// (jac_rows x jac_cols; only read by FK terms).
template <class T>
GPS_HD std::uint32_t eval_step(const CostModel<T>& c, std::int64_t condition, int t,
                               int steps, int dX, int dU, const T* x, const T* u,
                               const T* jac, T* l, T* g, T* H, int ldh, T* scratch) {
  const int md = c.max_dim;
  T* wpt = scratch;         // (max_dim)
  T* d = scratch + md;      // (max_dim)
  T* d1 = scratch + 2 * md; // (max_dim)
  T* d2 = scratch + 3 * md; // (max_dim x max_dim)
  const T* cond_params = c.params + condition * c.param_stride;
  std::uint32_t status = kOk;
  for (int k = 0; k < c.n_terms; ++k) {
    const Term<T>& term = c.terms[k];
    const T* weights = cond_params + term.params;
    const T* target = weights + term.dim;
    const T w = term.weight;
    if (term.kind == TermKind::kAction) {
      T sum = T(0);
      for (int i = 0; i < dU; ++i) {
        sum += weights[i] * (u[i] * u[i]);
        g[dX + i] += w * (weights[i] * u[i]);
        H[(dX + i) * ldh + dX + i] += w * weights[i];
      }
      *l += w * (T(0.5) * sum);
      continue;
    }
    if (!valid_ramp(term.ramp) || term.dim > md) {
      status |= kInvalidArgument;
      continue;
    }
    const T ramp = ramp_multiplier(term.ramp, t, steps, term.final_multiplier);
    for (int i = 0; i < term.dim; ++i) {
      wpt[i] = weights[i] * ramp;
      d[i] = x[term.offset + i] - target[i];
    }
    *l += w * norm_penalty(term.norm, term.dim, wpt, d, term.l1, term.l2, term.alpha, d1, d2);
    if (term.kind == TermKind::kState) {
      // identity Jacobian: the penalty's derivatives land on the block itself
      for (int i = 0; i < term.dim; ++i) {
        g[term.offset + i] += w * d1[i];
        for (int j = 0; j < term.dim; ++j)
          H[(term.offset + i) * ldh + term.offset + j] += w * d2[i * term.dim + j];
      }
    } else {  // FK: end-effector Jacobian, zero second-order term, JOINT_ANGLES block only
      if (!jac || term.dim != c.jac_rows || term.joints != c.jac_cols) {
        status |= kInvalidArgument;
        continue;
      }
      chain_rule(term.dim, term.joints, jac, c.jac_cols, static_cast<const T*>(nullptr), d1,
                 d2, w, g + term.joint_offset, H + term.joint_offset * ldh + term.joint_offset,
                 ldh);
    }
  }
  if (!is_finite(*l)) status |= kNonFinite;
  return status;
}

// Per-(sample, step) expansion: l, g, H for S independent samples (golden tests, policy
// costs). for_each_2d over (S, T).
template <class T>
struct SampleExpansion {
  CostModel<T> cost;
  int steps, dX, dU;
  const T* X;             // (S x T x dX)
  const T* U;             // (S x T x dU)
  const T* jac;           // (S x T x jac_rows x jac_cols), null without FK terms
  const std::int64_t* condition;  // (S) condition of each sample, null: all condition 0
  T* l;                   // (S x T)
  T* g;                   // (S x T x dXU)
  T* H;                   // (S x T x dXU x dXU)
  T* scratch;             // (S x T x step_scratch_size)
  std::uint32_t* status;  // (S x T)

  GPS_HD void operator()(std::int64_t s, std::int64_t t) const {
    const int dxu = dX + dU;
    const std::int64_t st = s * steps + t;
    T* gs = g + st * dxu;
    T* Hs = H + st * dxu * dxu;
    for (int i = 0; i < dxu; ++i) gs[i] = T(0);
    for (int i = 0; i < dxu * dxu; ++i) Hs[i] = T(0);
    l[st] = T(0);
    const T* jac_st = jac ? jac + st * cost.jac_rows * cost.jac_cols : nullptr;
    status[st] = eval_step(cost, condition ? condition[s] : 0, static_cast<int>(t), steps, dX,
                           dU, X + st * dX, U + st * dU, jac_st, l + st, gs, Hs, dxu,
                           scratch + st * step_scratch_size(cost));
  }
};

// Algorithm._eval_cost batched over conditions: for each (m, t), the N samples' expansions
// re-centred at the origin and averaged (pitfall 13):
//   Cm = mean H,  cv = mean (g - H y),  cc = mean (l - g.y + 0.5 y.H.y),  y = [x; u],
// plus the true per-sample costs cs. for_each_2d over (M, T).
template <class T>
struct EvalCost {
  CostModel<T> cost;
  int samples, steps, dX, dU;  // N, T, dX, dU
  const T* X;             // (M x N x T x dX)
  const T* U;             // (M x N x T x dU)
  const T* jac;           // (M x N x T x jac_rows x jac_cols), null without FK terms
  T* cs;                  // (M x N x T)
  T* cc;                  // (M x T)
  T* cv;                  // (M x T x dXU)
  T* Cm;                  // (M x T x dXU x dXU)
  T* scratch;             // (M x T x eval_cost_scratch_size)
  std::uint32_t* status;  // (M x T)

  GPS_HD static int scratch_size(const CostModel<T>& c, int dX, int dU) {
    const int dxu = dX + dU;
    return 2 * dxu + dxu * dxu + step_scratch_size(c);
  }

  GPS_HD void operator()(std::int64_t m, std::int64_t t) const {
    const int dxu = dX + dU;
    const std::int64_t mt = m * steps + t;
    T* g = scratch + mt * scratch_size(cost, dX, dU);  // (dXU)
    T* y = g + dxu;                                     // (dXU)
    T* H = y + dxu;                                     // (dXU x dXU)
    T* step_scratch = H + dxu * dxu;
    T* cc_mt = cc + mt;
    T* cv_mt = cv + mt * dxu;
    T* Cm_mt = Cm + mt * dxu * dxu;
    *cc_mt = T(0);
    for (int i = 0; i < dxu; ++i) cv_mt[i] = T(0);
    for (int i = 0; i < dxu * dxu; ++i) Cm_mt[i] = T(0);
    std::uint32_t st = kOk;
    for (int n = 0; n < samples; ++n) {
      const std::int64_t snt = (m * samples + n) * steps + t;
      const T* x = X + snt * dX;
      const T* u = U + snt * dU;
      for (int i = 0; i < dX; ++i) y[i] = x[i];
      for (int i = 0; i < dU; ++i) y[dX + i] = u[i];
      for (int i = 0; i < dxu; ++i) g[i] = T(0);
      for (int i = 0; i < dxu * dxu; ++i) H[i] = T(0);
      T l = T(0);
      const T* jac_snt = jac ? jac + snt * cost.jac_rows * cost.jac_cols : nullptr;
      st |= eval_step(cost, m, static_cast<int>(t), steps, dX, dU, x, u, jac_snt, &l, g, H, dxu,
                      step_scratch);
      cs[snt] = l;
      // reference order: cv_update = H^T (-y); cc = l + (-y).g + 0.5 (-y).cv_update
      T ydotg = T(0), yHy = T(0);
      for (int j = 0; j < dxu; ++j) {
        T hty = T(0);
        for (int i = 0; i < dxu; ++i) hty += H[i * dxu + j] * y[i];
        ydotg += y[j] * g[j];
        yHy += y[j] * hty;
        cv_mt[j] += g[j] - hty;
      }
      *cc_mt += l - ydotg + T(0.5) * yHy;
      for (int i = 0; i < dxu * dxu; ++i) Cm_mt[i] += H[i];
    }
    const T inv_n = T(1) / T(samples);
    *cc_mt *= inv_n;
    for (int i = 0; i < dxu; ++i) cv_mt[i] *= inv_n;
    for (int i = 0; i < dxu * dxu; ++i) Cm_mt[i] *= inv_n;
    status[mt] = st;
  }
};

}  // namespace gpsx::cost
