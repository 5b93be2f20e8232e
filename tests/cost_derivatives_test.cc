// Analytic cost derivatives against central finite differences, for every term kind,
// norm and ramp. The only expected deviation is the reference's logl2 Hessian (pitfall 15),
// which is checked to be exactly the missing rank-one term.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "gpsx/host/cost.h"

namespace gpsx {
namespace {

constexpr int kT = 6, kJ = 3, kDX = 2 * kJ + 2, kDU = kJ, kDXU = kDX + kDU;  // x = [q, dq, ee]
constexpr int kEE = 2 * kJ;

struct Expansion {
  double l = 0;
  std::vector<double> g = std::vector<double>(kDXU, 0.0);
  std::vector<double> H = std::vector<double>(kDXU * kDXU, 0.0);
};

// Planar linear "forward kinematics" ee = A q + b, so the Jacobian A is exact and the
// second-order term the reference drops is zero.
struct Plant {
  double A[2][kJ] = {{0.7, -0.3, 0.5}, {0.2, 0.9, -0.4}};
  double b[2] = {0.1, -0.2};
  void fill_ee(std::vector<double>& y) const {
    for (int r = 0; r < 2; ++r) {
      y[2 * kJ + r] = b[r];
      for (int j = 0; j < kJ; ++j) y[2 * kJ + r] += A[r][j] * y[j];
    }
  }
};

Expansion expand(const CostTable& table, const std::vector<double>& y, int t, const Plant& p) {
  CostModelStorage s = make_cost_model(cpu_executor(1), table);
  std::vector<double> scratch(cost::step_scratch_size(s.model));
  std::vector<double> jac(2 * kJ);
  for (int r = 0; r < 2; ++r)
    for (int j = 0; j < kJ; ++j) jac[r * kJ + j] = p.A[r][j];
  Expansion e;
  const std::uint32_t st = cost::eval_step(s.model, 0, t, kT, kDX, kDU, y.data(), y.data() + kDX,
                                           jac.data(), &e.l, e.g.data(), e.H.data(), kDXU,
                                           scratch.data());
  EXPECT_EQ(st, kOk);
  return e;
}

// Free coordinates: q, dq and u; ee follows q through the plant (FK terms only see q).
std::vector<int> free_coordinates() {
  std::vector<int> idx;
  for (int i = 0; i < 2 * kJ; ++i) idx.push_back(i);
  for (int i = kDX; i < kDXU; ++i) idx.push_back(i);
  return idx;
}

struct FdResult {
  std::vector<double> grad, hess;  // over free coordinates
};

FdResult finite_differences(const CostTable& table, std::vector<double> y, int t, const Plant& p) {
  const auto idx = free_coordinates();
  const int n = static_cast<int>(idx.size());
  FdResult r{std::vector<double>(n), std::vector<double>(n * n)};
  const double h = 1e-5;
  for (int a = 0; a < n; ++a) {
    std::vector<double> yp = y, ym = y;
    yp[idx[a]] += h;
    ym[idx[a]] -= h;
    p.fill_ee(yp);
    p.fill_ee(ym);
    const Expansion ep = expand(table, yp, t, p), em = expand(table, ym, t, p);
    r.grad[a] = (ep.l - em.l) / (2 * h);
    for (int b = 0; b < n; ++b)
      r.hess[b * n + a] = (ep.g[idx[b]] - em.g[idx[b]]) / (2 * h);
  }
  return r;
}

std::vector<double> random_point(unsigned seed, const Plant& p) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n01;
  std::vector<double> y(kDXU);
  for (double& v : y) v = n01(rng);
  p.fill_ee(y);
  return y;
}

// Checks gradient and Hessian over the free coordinates; `hessian_gap(y)` is the
// expected analytic-minus-true Hessian on the full joint vector (zero unless logl2).
void check_term(const std::string& name, const CostDesc& desc,
                const std::function<std::vector<double>(const std::vector<double>&, int)>& hessian_gap = {}) {
  const CostTable table = compile_cost(desc, kDX, kDU, 1);
  const Plant plant;
  const auto idx = free_coordinates();
  const int n = static_cast<int>(idx.size());
  for (int t : {0, 2, kT - 1}) {  // ramps differ at the start, the middle and the final step
    for (unsigned seed : {1u, 2u, 3u}) {
      const std::vector<double> y = random_point(seed, plant);
      const Expansion e = expand(table, y, t, plant);
      const FdResult fd = finite_differences(table, y, t, plant);
      std::vector<double> gap(kDXU * kDXU, 0.0);
      if (hessian_gap) gap = hessian_gap(y, t);
      for (int a = 0; a < n; ++a) {
        EXPECT_NEAR(e.g[idx[a]], fd.grad[a], 1e-6 * std::max(1.0, std::abs(fd.grad[a])))
            << name << " t " << t << " seed " << seed << " d/dy" << idx[a];
        for (int b = 0; b < n; ++b)
          EXPECT_NEAR(e.H[idx[a] * kDXU + idx[b]] - gap[idx[a] * kDXU + idx[b]], fd.hess[a * n + b],
                      1e-5 * std::max(1.0, std::abs(fd.hess[a * n + b])))
              << name << " t " << t << " seed " << seed << " H[" << idx[a] << "," << idx[b] << "]";
      }
      // FK terms write no derivatives for the end-effector coordinates (pitfall 16)
      for (int i = 2 * kJ; i < kDX; ++i) EXPECT_EQ(e.g[i], 0.0) << name;
    }
  }
}

CostBlockDesc ee_block() { return {2 * kJ, {2.0, 0.5}, {{0.3, -0.4}}}; }
CostBlockDesc q_block() { return {0, {1.1, 0.6, 0.7}, {{-0.2, 0.8, 0.4}}}; }
CostBlockDesc dq_block() { return {kJ, {0.5, 0.3, 0.4}, {{0.1, -0.5, -0.6}}}; }

CostDesc one(CostTermDesc t) { return CostDesc{{std::move(t)}, "fd"}; }

TEST(CostDerivatives, Action) { check_term("action", one(action_cost({0.3, 1.2, 0.05}))); }

TEST(CostDerivatives, StateL1L2EveryRamp) {
  for (int ramp = 1; ramp <= 4; ++ramp) {
    CostTermDesc t = state_cost({q_block(), dq_block()});
    t.l1 = 0.7;
    t.l2 = 1.3;
    t.alpha = 1e-2;
    t.ramp = static_cast<cost::Ramp>(ramp);
    t.final_multiplier = 3.0;
    check_term("state ramp " + std::to_string(ramp), one(t));
  }
}

TEST(CostDerivatives, FkL1L2) {
  CostTermDesc t = fk_cost(ee_block(), 0, kJ);
  t.norm = cost::Norm::kL1L2;
  t.l1 = 0.5;
  t.l2 = 2.0;
  t.alpha = 1e-3;
  t.ramp = cost::Ramp::kLinear;
  t.final_multiplier = 4.0;
  check_term("fk l1l2", one(t));
}

// logl2: the reference's Hessian equals the true one plus l1 J^T v v^T J / psq^2 with
// v = d * wp^2 and psq = alpha + sum((wp d)^2): its rank-one term lacks the factor 2.
std::vector<double> logl2_gap(const CostTermDesc& t, const Plant& p, const std::vector<double>& y,
                              int step, int joint_offset, bool fk) {
  const CostBlockDesc& b = t.blocks[0];
  const int dim = static_cast<int>(b.wp.size());
  const double ramp = cost::ramp_multiplier(t.ramp, step, kT, t.final_multiplier);
  std::vector<double> v(dim);
  double psq = t.alpha;
  for (int i = 0; i < dim; ++i) {
    const double wp = b.wp[i] * ramp, d = y[b.offset + i] - b.targets[0][i];
    v[i] = d * wp * wp;
    psq += (d * wp) * (d * wp);
  }
  const int cols = fk ? kJ : dim;
  std::vector<double> Jv(cols, 0.0);  // J^T v
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < dim; ++i) Jv[j] += (fk ? p.A[i][j] : (i == j ? 1.0 : 0.0)) * v[i];
  std::vector<double> gap(kDXU * kDXU, 0.0);
  for (int i = 0; i < cols; ++i)
    for (int j = 0; j < cols; ++j)
      gap[(joint_offset + i) * kDXU + joint_offset + j] = t.l1 * Jv[i] * Jv[j] / (psq * psq);
  return gap;
}

TEST(CostDerivatives, FkLogL2HessianDiffersOnlyByTheReferenceQuirk) {
  CostTermDesc t = fk_cost(ee_block(), 0, kJ);  // reference default: log norm
  t.l1 = 0.8;
  t.l2 = 1.5;
  t.alpha = 1e-2;
  t.ramp = cost::Ramp::kQuadratic;
  t.final_multiplier = 2.0;
  const Plant plant;
  check_term("fk log", one(t), [&](const std::vector<double>& y, int step) {
    return logl2_gap(t, plant, y, step, 0, true);
  });
}

TEST(CostDerivatives, StateLogL2HessianDiffersOnlyByTheReferenceQuirk) {
  CostTermDesc t = state_cost({q_block()});
  t.norm = cost::Norm::kLogL2;
  t.l1 = 0.6;
  t.alpha = 1e-1;
  const Plant plant;
  check_term("state log", one(t), [&](const std::vector<double>& y, int step) {
    return logl2_gap(t, plant, y, step, 0, false);
  });
}

TEST(CostDerivatives, WeightedSum) {
  CostTermDesc fk = fk_cost(ee_block(), 0, kJ, 0.7);
  fk.norm = cost::Norm::kL1L2;
  fk.l1 = 0.2;
  CostTermDesc st = state_cost({dq_block()}, 1.9);
  st.l1 = 0.4;
  check_term("sum", CostDesc{{action_cost({0.1, 0.2, 0.3}, 1.5), st, fk}, "fd"});
}

}  // namespace
}  // namespace gpsx
