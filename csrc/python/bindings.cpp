// pybind11 glue only: checks shapes, dtypes and contiguity, calls the core's own precondition
// checks (check_pair_coverage, check_model_bits, check_csr_offsets, check_knapsack_*, CsrDefect),
// releases the GIL and calls the header-only core. Nothing that comes from Python may crash the
// process: a bad array raises trimcore.InstanceError naming the field.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "trimcore/bitset.hpp"
#include "trimcore/coverage.hpp"
#include "trimcore/greedy.hpp"
#include "trimcore/knapsack.hpp"
#include "trimcore/max_coverage.hpp"

namespace py = pybind11;
void bind_online(py::module_& m);  // csrc/python/online_bindings.cpp
void bind_placement(py::module_& m);  // csrc/python/placement_bindings.cpp
using trimcore::View;
using trimcore::View2;

namespace {

[[noreturn]] void fail(const std::string& message) {
  py::object error = py::module_::import("trimcore.errors").attr("InstanceError");
  PyErr_SetString(error.ptr(), message.c_str());
  throw py::error_already_set();
}

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// Checks dtype, dimension, C-contiguity and the given extents (-1 = any) of `obj`.
template <class T>
py::array checked(const py::handle& obj, const char* name, std::vector<py::ssize_t> shape) {
  if (!py::isinstance<py::array>(obj)) fail(std::string(name) + ": expected a NumPy array");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  // equivalence, not identity: an unpickled array carries an equal but distinct dtype object
  if (!py::detail::npy_api::get().PyArray_EquivTypes_(a.dtype().ptr(), py::dtype::of<T>().ptr()))
    fail(std::string(name) + ": expected dtype " + std::string(py::str(py::dtype::of<T>())) +
         ", got " + std::string(py::str(a.dtype())));
  if (a.ndim() != static_cast<py::ssize_t>(shape.size()))
    fail(std::string(name) + ": expected " + std::to_string(shape.size()) + " dimensions, got shape " +
         shape_text(a));
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (shape[d] >= 0 && a.shape(d) != shape[d])
      fail(std::string(name) + ": wrong shape " + shape_text(a) + " (dimension " + std::to_string(d) +
           " must be " + std::to_string(shape[d]) + ")");
  if (!(a.flags() & py::array::c_style)) fail(std::string(name) + ": expected a C-contiguous array");
  return a;
}

template <class T>
const T* ptr(const py::array& a) {
  return static_cast<const T*>(a.data());
}

// Placement bool[M, I] viewed as bytes.
View2<const std::uint8_t> placement_view(const py::array& a) {
  return {ptr<std::uint8_t>(a), static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1))};
}

// Checks that model bitsets only use bits of existing blocks (the core's check_model_bits).
void check_bitsets(const py::array& bits, std::size_t n_blocks) {
  const trimcore::BitsDefect defect = trimcore::check_model_bits(
      {ptr<trimcore::Word>(bits), static_cast<std::size_t>(bits.shape(0)), static_cast<std::size_t>(bits.shape(1))},
      n_blocks);
  if (defect.wrong_width)
    fail("model_bits: expected " + std::to_string((n_blocks + 63) / 64) + " words per model for " +
         std::to_string(n_blocks) + " blocks, got " + std::to_string(bits.shape(1)));
  if (!defect.ok()) fail("model_bits: model " + std::to_string(defect.model) + " has bits set past the last block");
}

// Builds a coverage view checked by the core (check_pair_coverage): extents inside `users`, ids in [0, K).
trimcore::PairCoverage coverage_view(const py::array& ptr_a, const py::array& len_a, const py::array& users_a,
                                     std::size_t n_servers, std::size_t n_users, std::size_t n_models) {
  trimcore::PairCoverage cov;
  cov.n_servers = n_servers;
  cov.n_users = n_users;
  cov.n_models = n_models;
  cov.pair_ptr = ptr<std::int64_t>(ptr_a);
  cov.pair_len = ptr<std::int64_t>(len_a);
  cov.users = ptr<std::int32_t>(users_a);
  cov.n_entries = static_cast<std::size_t>(users_a.shape(0));
  const trimcore::CoverageDefect defect = trimcore::check_pair_coverage(cov);
  if (defect.field == trimcore::CoverageDefect::Field::Extent)
    fail("pair_ptr/pair_len: pair " + std::to_string(defect.index) + " points outside pair_users");
  if (defect.field == trimcore::CoverageDefect::Field::User)
    fail("pair_users: expected user ids in [0, " + std::to_string(n_users) + "), got " + std::to_string(defect.value) +
         " at position " + std::to_string(defect.index));
  return cov;
}

// Demand as the kernels read it (trimcore.placement.demand): a dense popularity by model
// float64[I, K], or a tuple (by_model float64[I, G], group int32[K] or None, rate float64[K] or None).
// The group ids are checked here (they index by_model); the arrays stay referenced by `keep`.
struct DemandArrays {
  py::array by_model, group, rate;
  trimcore::DemandView view;
  py::ssize_t n_models = 0, n_users = 0;
};

DemandArrays demand_arrays(const py::handle& obj, const char* name, py::ssize_t n_models, py::ssize_t n_users) {
  DemandArrays d;
  if (!py::isinstance<py::tuple>(obj)) {
    d.by_model = checked<double>(obj, name, {n_models, n_users});
    d.n_models = d.by_model.shape(0);
    d.n_users = d.by_model.shape(1);
    d.view = View2<const double>{ptr<double>(d.by_model), static_cast<std::size_t>(d.n_models),
                                 static_cast<std::size_t>(d.n_users)};
    return d;
  }
  const py::tuple t = py::reinterpret_borrow<py::tuple>(obj);
  if (t.size() != 3) fail(std::string(name) + ": expected (by_model, group, rate)");
  if (t[1].is_none()) {  // the dense form as a tuple
    if (!t[2].is_none()) fail(std::string(name) + ": dense demand (group None) takes no rates");
    return demand_arrays(t[0], name, n_models, n_users);
  }
  d.by_model = checked<double>(t[0], "demand.by_model", {n_models, -1});
  d.group = checked<std::int32_t>(t[1], "demand.group", {n_users});
  d.n_models = d.by_model.shape(0);
  d.n_users = d.group.shape(0);
  const auto n_groups = d.by_model.shape(1);
  const std::int32_t* g = ptr<std::int32_t>(d.group);
  for (py::ssize_t k = 0; k < d.n_users; ++k)
    if (g[k] < 0 || g[k] >= n_groups)
      fail("demand.group: expected ids in [0, " + std::to_string(n_groups) + "), got " + std::to_string(g[k]) +
           " at user " + std::to_string(k));
  const double* r = nullptr;
  if (!t[2].is_none()) {
    d.rate = checked<double>(t[2], "demand.rate", {d.n_users});
    r = ptr<double>(d.rate);
  }
  d.view = trimcore::DemandView{ptr<double>(d.by_model), static_cast<std::size_t>(n_groups), g, r};
  return d;
}

py::array_t<double> storage_used(const py::handle& placement_o, const py::handle& bits_o,
                                 const py::handle& sizes_o) {
  py::array sizes = checked<double>(sizes_o, "block_sizes", {-1});
  py::array bits = checked<trimcore::Word>(bits_o, "model_bits", {-1, -1});
  py::array placement = checked<bool>(placement_o, "placement", {-1, bits.shape(0)});
  check_bitsets(bits, static_cast<std::size_t>(sizes.shape(0)));
  py::array_t<double> out(placement.shape(0));
  View<double> out_v{out.mutable_data(), static_cast<std::size_t>(placement.shape(0))};
  View2<const trimcore::Word> bits_v{ptr<trimcore::Word>(bits), static_cast<std::size_t>(bits.shape(0)),
                                     static_cast<std::size_t>(bits.shape(1))};
  auto place_v = placement_view(placement);
  const double* sizes_p = ptr<double>(sizes);
  {
    py::gil_scoped_release release;
    trimcore::storage_used(place_v, bits_v, sizes_p, out_v);
  }
  return out;
}

// Pair coverage validated once and owned by C++ (copies), for evaluators called many times on
// one problem: the per-call check then only concerns the placement.
struct CoverageIndex {
  std::size_t n_servers = 0, n_users = 0, n_models = 0;
  std::vector<std::int64_t> ptr, len;
  std::vector<std::int32_t> users;
  trimcore::PairCoverage view() const {
    return trimcore::PairCoverage::of(n_servers, n_users, n_models, ptr, len, users);
  }
};

std::shared_ptr<CoverageIndex> make_coverage_index(const py::handle& ptr_o, const py::handle& len_o,
                                                   const py::handle& users_o, std::int64_t n_servers,
                                                   std::int64_t n_users, std::int64_t n_models) {
  if (n_servers < 0 || n_users < 0 || n_models < 0) fail("CoverageIndex: expected non-negative sizes");
  py::array ptr_a = checked<std::int64_t>(ptr_o, "pair_ptr", {n_servers * n_models});
  py::array len_a = checked<std::int64_t>(len_o, "pair_len", {n_servers * n_models});
  py::array users_a = checked<std::int32_t>(users_o, "pair_users", {-1});
  coverage_view(ptr_a, len_a, users_a, static_cast<std::size_t>(n_servers), static_cast<std::size_t>(n_users),
                static_cast<std::size_t>(n_models));  // validates
  auto index = std::make_shared<CoverageIndex>();
  index->n_servers = static_cast<std::size_t>(n_servers);
  index->n_users = static_cast<std::size_t>(n_users);
  index->n_models = static_cast<std::size_t>(n_models);
  index->ptr.assign(ptr<std::int64_t>(ptr_a), ptr<std::int64_t>(ptr_a) + ptr_a.shape(0));
  index->len.assign(ptr<std::int64_t>(len_a), ptr<std::int64_t>(len_a) + len_a.shape(0));
  index->users.assign(ptr<std::int32_t>(users_a), ptr<std::int32_t>(users_a) + users_a.shape(0));
  return index;
}

double hit_weight_indexed(const py::handle& placement_o, const CoverageIndex& index, const py::handle& weight_o) {
  const DemandArrays weight = demand_arrays(weight_o, "popularity_by_model", static_cast<py::ssize_t>(index.n_models),
                                             static_cast<py::ssize_t>(index.n_users));
  py::array placement = checked<bool>(placement_o, "placement", {static_cast<py::ssize_t>(index.n_servers),
                                                                 static_cast<py::ssize_t>(index.n_models)});
  auto place_v = placement_view(placement);
  const trimcore::DemandView weight_v = weight.view;
  const trimcore::PairCoverage cov = index.view();
  py::gil_scoped_release release;
  return trimcore::hit_weight(place_v, cov, weight_v);
}

// Popularity float64[I, K] and covered uint8[I, K] checked against a validated index (the
// index itself is not checked again: that is what makes per-server calls O(I + their pairs)).
std::pair<DemandArrays, py::array> gain_inputs(const CoverageIndex& index, const py::handle& weight_o,
                                               const py::handle& covered_o) {
  const std::vector<py::ssize_t> shape = {static_cast<py::ssize_t>(index.n_models),
                                          static_cast<py::ssize_t>(index.n_users)};
  return {demand_arrays(weight_o, "popularity_by_model", shape[0], shape[1]),
          checked<std::uint8_t>(covered_o, "covered", shape)};
}

py::array_t<double> server_gains_indexed(std::int64_t server, const CoverageIndex& index, const py::handle& weight_o,
                                         const py::handle& covered_o) {
  const auto [weight, covered] = gain_inputs(index, weight_o, covered_o);
  if (server < 0 || static_cast<std::size_t>(server) >= index.n_servers)
    fail("server: expected an index in [0, " + std::to_string(index.n_servers) + "), got " + std::to_string(server));
  py::array_t<double> out(static_cast<py::ssize_t>(index.n_models));
  double* out_p = out.mutable_data();
  const trimcore::PairCoverage cov = index.view();
  const trimcore::DemandView weight_v = weight.view;
  const std::uint8_t* c = ptr<std::uint8_t>(covered);
  {
    py::gil_scoped_release release;
    trimcore::server_gains(cov, static_cast<std::size_t>(server), weight_v, c, out_p);
  }
  return out;
}

py::array_t<double> all_server_gains_indexed(const CoverageIndex& index, const py::handle& weight_o,
                                             const py::handle& covered_o) {
  const auto [weight, covered] = gain_inputs(index, weight_o, covered_o);
  py::array_t<double> out({static_cast<py::ssize_t>(index.n_servers), static_cast<py::ssize_t>(index.n_models)});
  double* out_p = out.mutable_data();
  const trimcore::PairCoverage cov = index.view();
  const trimcore::DemandView weight_v = weight.view;
  const std::uint8_t* c = ptr<std::uint8_t>(covered);
  {
    py::gil_scoped_release release;
    trimcore::all_server_gains(cov, weight_v, c, out_p);
  }
  return out;
}

// all_server_gains around a placement, the covered requests kept as bits (no [I, K] flags).
py::array_t<double> all_server_gains_placed(const CoverageIndex& index, const py::handle& weight_o,
                                            const py::handle& placement_o) {
  const DemandArrays weight = demand_arrays(weight_o, "popularity_by_model", static_cast<py::ssize_t>(index.n_models),
                                            static_cast<py::ssize_t>(index.n_users));
  py::array placement = checked<bool>(placement_o, "placement", {static_cast<py::ssize_t>(index.n_servers),
                                                                 static_cast<py::ssize_t>(index.n_models)});
  py::array_t<double> out({static_cast<py::ssize_t>(index.n_servers), static_cast<py::ssize_t>(index.n_models)});
  double* out_p = out.mutable_data();
  const trimcore::PairCoverage cov = index.view();
  const trimcore::DemandView weight_v = weight.view;
  auto place_v = placement_view(placement);
  {
    py::gil_scoped_release release;
    trimcore::all_server_gains_placed(cov, weight_v, place_v, out_p);
  }
  return out;
}

double hit_weight(const py::handle& placement_o, const py::handle& ptr_o, const py::handle& len_o,
                  const py::handle& users_o, const py::handle& weight_o) {
  const DemandArrays weight = demand_arrays(weight_o, "popularity_by_model", -1, -1);
  const auto n_models = weight.n_models;
  const auto n_users = weight.n_users;
  py::array placement = checked<bool>(placement_o, "placement", {-1, n_models});
  const auto n_servers = placement.shape(0);
  py::array ptr_a = checked<std::int64_t>(ptr_o, "pair_ptr", {n_servers * n_models});
  py::array len_a = checked<std::int64_t>(len_o, "pair_len", {n_servers * n_models});
  py::array users_a = checked<std::int32_t>(users_o, "pair_users", {-1});
  auto cov = coverage_view(ptr_a, len_a, users_a, static_cast<std::size_t>(n_servers),
                           static_cast<std::size_t>(n_users), static_cast<std::size_t>(n_models));
  auto place_v = placement_view(placement);
  const trimcore::DemandView weight_v = weight.view;
  py::gil_scoped_release release;
  return trimcore::hit_weight(place_v, cov, weight_v);
}

template <class T>
T* mutable_ptr(py::array& a) {
  if (!a.writeable()) fail("array is read-only but must be written in place");
  return static_cast<T*>(a.mutable_data());
}

void check_range(const py::array& a, const char* name, std::int64_t upper) {
  const auto n = static_cast<std::size_t>(a.size());
  if (a.dtype().is(py::dtype::of<std::int64_t>())) {
    const auto* v = ptr<std::int64_t>(a);
    for (std::size_t t = 0; t < n; ++t)
      if (v[t] < 0 || v[t] >= upper)
        fail(std::string(name) + ": expected ids in [0, " + std::to_string(upper) + "), got " + std::to_string(v[t]));
  } else {
    const auto* v = ptr<std::int32_t>(a);
    for (std::size_t t = 0; t < n; ++t)
      if (v[t] < 0 || v[t] >= upper)
        fail(std::string(name) + ": expected ids in [0, " + std::to_string(upper) + "), got " + std::to_string(v[t]));
  }
}

// CSR offsets: length n + 1, starting at 0, non-decreasing, ending at `n_entries` (the core's check).
void check_offsets(const py::array& a, const char* name, std::int64_t n_entries) {
  const std::int64_t bad = trimcore::check_csr_offsets(ptr<std::int64_t>(a), static_cast<std::size_t>(a.shape(0)),
                                                       n_entries);
  if (bad == a.shape(0)) fail(std::string(name) + ": expected CSR offsets from 0 to " + std::to_string(n_entries));
  if (bad >= 0) fail(std::string(name) + ": expected non-decreasing offsets");
}

trimcore::Rule parse_rule(const std::string& rule) {
  if (rule == "gain") return trimcore::Rule::Gain;
  if (rule == "ratio") return trimcore::Rule::Ratio;
  fail("rule: expected 'gain' or 'ratio', got '" + rule + "'");
}

py::array_t<std::int64_t> to_array(const std::vector<std::int64_t>& v) {
  py::array_t<std::int64_t> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

// Greedy placement over (server, model) pairs under union-of-blocks storage budgets.
py::array_t<std::int64_t> greedy_placement(const py::handle& ptr_o, const py::handle& len_o, const py::handle& users_o,
                                           const py::handle& weight_o, const py::handle& bits_o,
                                           const py::handle& sizes_o, const py::handle& capacity_o,
                                           const py::handle& block_ptr_o, const py::handle& block_models_o,
                                           const py::handle& candidates_o, py::handle covered_o,
                                           const std::string& rule_name, bool lazy, double rtol,
                                           const py::handle& kept_o) {
  const trimcore::Rule rule = parse_rule(rule_name);
  const DemandArrays weight = demand_arrays(weight_o, "popularity_by_model", -1, -1);
  const auto n_models = weight.n_models, n_users = weight.n_users;
  py::array capacity = checked<double>(capacity_o, "capacity", {-1});
  const auto n_servers = capacity.shape(0);
  py::array sizes = checked<double>(sizes_o, "block_sizes", {-1});
  py::array bits = checked<trimcore::Word>(bits_o, "model_bits", {n_models, -1});
  check_bitsets(bits, static_cast<std::size_t>(sizes.shape(0)));
  py::array ptr_a = checked<std::int64_t>(ptr_o, "pair_ptr", {n_servers * n_models});
  py::array len_a = checked<std::int64_t>(len_o, "pair_len", {n_servers * n_models});
  py::array users_a = checked<std::int32_t>(users_o, "pair_users", {-1});
  py::array block_ptr = checked<std::int64_t>(block_ptr_o, "block_ptr", {sizes.shape(0) + 1});
  py::array block_models = checked<std::int32_t>(block_models_o, "block_models", {-1});
  check_offsets(block_ptr, "block_ptr", block_models.shape(0));
  check_range(block_models, "block_models", n_models);
  py::array candidates = checked<std::int64_t>(candidates_o, "candidates", {-1});
  check_range(candidates, "candidates", n_servers * n_models);
  py::array kept_a = checked<std::int64_t>(kept_o, "kept", {-1});
  check_range(kept_a, "kept", n_servers * n_models);
  py::array covered = checked<std::uint8_t>(covered_o, "covered", {n_models, n_users});
  if (!(rtol >= 0.0 && rtol < 1.0)) fail("rtol: expected a value in [0, 1)");
  auto cov = coverage_view(ptr_a, len_a, users_a, static_cast<std::size_t>(n_servers),
                           static_cast<std::size_t>(n_users), static_cast<std::size_t>(n_models));
  const trimcore::DemandView weight_v = weight.view;
  View2<const trimcore::Word> bits_v{ptr<trimcore::Word>(bits), static_cast<std::size_t>(n_models),
                                     static_cast<std::size_t>(bits.shape(1))};
  std::uint8_t* covered_p = mutable_ptr<std::uint8_t>(covered);
  std::vector<std::int64_t> cand(ptr<std::int64_t>(candidates), ptr<std::int64_t>(candidates) + candidates.shape(0));
  const std::vector<std::int64_t> kept(ptr<std::int64_t>(kept_a), ptr<std::int64_t>(kept_a) + kept_a.shape(0));
  std::vector<std::int64_t> chosen;
  {
    py::gil_scoped_release release;
    trimcore::PairCoverageGains gains(cov, weight_v, covered_p);
    trimcore::UnionStorageBudget budget(static_cast<std::size_t>(n_servers), bits_v, ptr<double>(sizes),
                                        ptr<double>(capacity), rtol, ptr<std::int64_t>(block_ptr),
                                        ptr<std::int32_t>(block_models));
    chosen = trimcore::warm_greedy(gains, budget, std::move(cand), kept, rule, lazy,
                                   static_cast<std::size_t>(n_servers * n_models));  // a warm start (usually empty)
  }
  return to_array(chosen);
}

// Marginal gain of every model on one server given the covered requests, float64[I].
py::array_t<double> server_gains(std::int64_t server, const py::handle& ptr_o, const py::handle& len_o,
                                 const py::handle& users_o, const py::handle& weight_o, const py::handle& covered_o) {
  const DemandArrays weight = demand_arrays(weight_o, "popularity_by_model", -1, -1);
  const auto n_models = weight.n_models, n_users = weight.n_users;
  py::array ptr_a = checked<std::int64_t>(ptr_o, "pair_ptr", {-1});
  if (n_models == 0 || ptr_a.shape(0) % n_models != 0) fail("pair_ptr: expected M * I entries");
  const auto n_servers = ptr_a.shape(0) / n_models;
  py::array len_a = checked<std::int64_t>(len_o, "pair_len", {n_servers * n_models});
  py::array users_a = checked<std::int32_t>(users_o, "pair_users", {-1});
  py::array covered = checked<std::uint8_t>(covered_o, "covered", {n_models, n_users});
  if (server < 0 || server >= n_servers) fail("server: expected an index in [0, " + std::to_string(n_servers) + ")");
  auto cov = coverage_view(ptr_a, len_a, users_a, static_cast<std::size_t>(n_servers),
                           static_cast<std::size_t>(n_users), static_cast<std::size_t>(n_models));
  py::array_t<double> out(n_models);
  double* out_p = out.mutable_data();
  const trimcore::DemandView w = weight.view;
  const std::uint8_t* c = ptr<std::uint8_t>(covered);
  {
    py::gil_scoped_release release;
    for (std::size_t i = 0; i < static_cast<std::size_t>(n_models); ++i)
      out_p[i] = trimcore::pair_gain(cov, cov.pair(static_cast<std::size_t>(server), i), w, i,
                                     c + i * n_users);
  }
  return out;
}

py::array_t<std::int64_t> knapsack_fptas(const py::handle& values_o, const py::handle& weights_o, double capacity,
                                         double eps) {
  py::array values = checked<double>(values_o, "values", {-1});
  py::array weights = checked<double>(weights_o, "weights", {values.shape(0)});
  const auto n = static_cast<std::size_t>(values.shape(0));
  trimcore::KnapsackDefect defect;  // the core checks values, weights, capacity, eps and the table size
  std::vector<std::int64_t> chosen;
  {
    py::gil_scoped_release release;
    chosen = trimcore::knapsack_fptas(ptr<double>(values), ptr<double>(weights), n, capacity, eps, &defect);
  }
  if (!defect.ok()) fail(trimcore::describe(defect));
  return to_array(chosen);
}

py::array_t<std::int64_t> knapsack_grid(const py::handle& values_o, const py::handle& weights_o,
                                        std::int64_t capacity) {
  py::array values = checked<double>(values_o, "values", {-1});
  py::array weights = checked<std::int64_t>(weights_o, "weights", {values.shape(0)});
  const auto n = static_cast<std::size_t>(values.shape(0));
  trimcore::KnapsackDefect defect;
  std::vector<std::int64_t> chosen;
  {
    py::gil_scoped_release release;
    chosen = trimcore::knapsack_grid(ptr<double>(values), ptr<std::int64_t>(weights), n, capacity, &defect);
  }
  if (!defect.ok()) fail(trimcore::describe(defect));
  return to_array(chosen);
}

// Sets in CSR form with element weights, checked: dtypes, offsets from 0 to len(indices), fewer
// than 2^31 sets (the element ids are checked by the kernels, inside their first pass).
struct SetFamily {
  py::array weights, indptr, indices;
  py::ssize_t n_sets = 0, n_elements = 0;
};

SetFamily checked_sets(const py::handle& indptr_o, const py::handle& indices_o, const py::handle& weights_o,
                       int threads) {
  if (threads < 1) fail("threads: expected an integer >= 1, got " + std::to_string(threads));
  SetFamily csr;
  csr.weights = checked<double>(weights_o, "weights", {-1});
  csr.indptr = checked<std::int64_t>(indptr_o, "indptr", {-1});
  csr.indices = checked<std::int32_t>(indices_o, "indices", {-1});
  csr.n_sets = csr.indptr.shape(0) - 1;
  if (csr.n_sets < 0) fail("indptr: expected at least one entry");
  if (csr.n_sets >= (py::ssize_t{1} << 31)) fail("indptr: expected fewer than 2^31 sets");
  check_offsets(csr.indptr, "indptr", csr.indices.shape(0));
  csr.n_elements = csr.weights.shape(0);
  return csr;
}

// Greedy max coverage over sets in CSR form (set -> element ids) under an additive budget.
py::array_t<std::int64_t> max_coverage(const py::handle& indptr_o, const py::handle& indices_o,
                                       const py::handle& weights_o, const py::handle& costs_o, double budget,
                                       const std::string& rule_name, bool lazy, double rtol, int threads) {
  const trimcore::Rule rule = parse_rule(rule_name);
  const SetFamily csr = checked_sets(indptr_o, indices_o, weights_o, threads);
  const auto n_sets = csr.n_sets, n_elements = csr.n_elements;
  const py::array &weights = csr.weights, &indptr = csr.indptr, &indices = csr.indices;
  py::array costs = checked<double>(costs_o, "costs", {n_sets});
  const auto* w = ptr<double>(weights);
  const auto* c = ptr<double>(costs);
  const auto* ip = ptr<std::int64_t>(indptr);
  const auto* ix = ptr<std::int32_t>(indices);
  std::vector<std::int64_t> chosen;
  trimcore::CsrDefect defect;
  {
    py::gil_scoped_release release;
    const auto n = static_cast<std::size_t>(n_sets), n_el = static_cast<std::size_t>(n_elements);
    if (lazy) {  // checks ids and repeats inside its first pass
      chosen = trimcore::max_coverage_greedy(n, ip, ix, n_el, w, c, budget, rtol, rule, &defect, threads);
    } else {  // the core's checks, as max_coverage_greedy runs them: the numbers, then the ids
      defect = trimcore::check_coverage_values(w, n_el, c, n, budget, rtol);
      if (defect.set < 0) defect = trimcore::check_set_csr(n, ip, ix, n_el);
      if (defect.set < 0) {
        std::vector<std::uint8_t> covered(n_el, 0);
        std::vector<std::int64_t> candidates(n);
        for (std::size_t s = 0; s < n; ++s) candidates[s] = static_cast<std::int64_t>(s);
        trimcore::SetCoverageGains gains(ip, ix, w, covered.data());
        trimcore::AdditiveBudget limit(c, budget, rtol);
        chosen = trimcore::greedy_plain(gains, limit, candidates, rule);
      }
    }
  }
  if (defect.set >= 0) {
    if (defect.value != trimcore::CoverageValue::None) fail(trimcore::describe_value(defect));
    if (defect.bad_shape) fail("indptr: expected offsets from 0, non-decreasing, fewer than 2^31 sets and elements");
    if (defect.out_of_range)
      fail("indices: expected ids in [0, " + std::to_string(n_elements) + "), got " + std::to_string(defect.element));
    fail("indices: set " + std::to_string(defect.set) + " lists an element twice");
  }
  return to_array(chosen);
}

// Marginal gain of every set given a covered mask (one streaming pass; ids are checked here).
py::array_t<double> coverage_gains(const py::handle& indptr_o, const py::handle& indices_o, const py::handle& weights_o,
                                   const py::handle& covered_o, int threads) {
  const SetFamily csr = checked_sets(indptr_o, indices_o, weights_o, threads);
  const auto n_sets = csr.n_sets, n_elements = csr.n_elements;
  const py::array &weights = csr.weights, &indptr = csr.indptr, &indices = csr.indices;
  const std::uint8_t* cov = nullptr;
  py::array covered;
  if (!covered_o.is_none()) {
    covered = checked<bool>(covered_o, "covered", {n_elements});
    cov = ptr<std::uint8_t>(covered);
  }
  py::array_t<double> out(n_sets);
  bool ids_ok;
  {
    py::gil_scoped_release release;
    ids_ok = trimcore::coverage_gains(static_cast<std::size_t>(n_sets), ptr<std::int64_t>(indptr),
                                      ptr<std::int32_t>(indices), static_cast<std::size_t>(n_elements),
                                      ptr<double>(weights), cov, out.mutable_data(), threads);
  }
  if (!ids_ok) check_range(indices, "indices", n_elements);  // names the offending id
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "trimcore native core (C++17): block-union storage, coverage, greedy and knapsack kernels";
  m.def("storage_used", &storage_used, py::arg("placement"), py::arg("model_bits"), py::arg("block_sizes"),
        "Size of the union of the blocks placed on each server: float64[M].");
  m.def("hit_weight", &hit_weight, py::arg("placement"), py::arg("pair_ptr"), py::arg("pair_len"),
        py::arg("pair_users"), py::arg("popularity_by_model"),
        "Total popularity of the requests served by some server holding the requested model.");
  py::class_<CoverageIndex, std::shared_ptr<CoverageIndex>>(
      m, "CoverageIndex", "Validated copy of a problem's (server, model) -> users coverage lists.")
      .def(py::init(&make_coverage_index), py::arg("pair_ptr"), py::arg("pair_len"), py::arg("pair_users"),
           py::arg("n_servers"), py::arg("n_users"), py::arg("n_models"));
  m.def("hit_weight_indexed", &hit_weight_indexed, py::arg("placement"), py::arg("index"),
        py::arg("popularity_by_model"), "hit_weight over a validated CoverageIndex.");
  m.def("server_gains_indexed", &server_gains_indexed, py::arg("server"), py::arg("index"),
        py::arg("popularity_by_model"), py::arg("covered"), "server_gains over a validated CoverageIndex.");
  m.def("all_server_gains_placed", &all_server_gains_placed, py::arg("index"), py::arg("popularity_by_model"),
        py::arg("placement"), "all_server_gains_indexed around a placement, the covered requests kept as bits.");
  m.def("all_server_gains_indexed", &all_server_gains_indexed, py::arg("index"), py::arg("popularity_by_model"),
        py::arg("covered"), "Marginal gain of every model on every server over a validated CoverageIndex, "
        "float64[M, I].");
  m.def("greedy_placement", &greedy_placement, py::arg("pair_ptr"), py::arg("pair_len"), py::arg("pair_users"),
        py::arg("popularity_by_model"), py::arg("model_bits"), py::arg("block_sizes"), py::arg("capacity"),
        py::arg("block_ptr"), py::arg("block_models"), py::arg("candidates"), py::arg("covered"), py::arg("rule"),
        py::arg("lazy"), py::arg("rtol"), py::arg("kept") = py::array_t<std::int64_t>(0),
        "Greedy over (server, model) pairs under union-of-blocks budgets, after committing the `kept` pairs "
        "that still fit and gain (a warm start); returns chosen pair ids in order.");
  m.def("server_gains", &server_gains, py::arg("server"), py::arg("pair_ptr"), py::arg("pair_len"),
        py::arg("pair_users"), py::arg("popularity_by_model"), py::arg("covered"),
        "Marginal gain of every model on one server, float64[I].");
  m.def("knapsack_fptas", &knapsack_fptas, py::arg("values"), py::arg("weights"), py::arg("capacity"),
        py::arg("eps"), "Value-rounding knapsack FPTAS; chosen item ids (ascending).");
  m.def("max_coverage", &max_coverage, py::arg("indptr"), py::arg("indices"), py::arg("weights"), py::arg("costs"),
        py::arg("budget"), py::arg("rule"), py::arg("lazy"), py::arg("rtol"), py::arg("threads") = 1,
        "Greedy weighted max coverage under an additive budget; chosen set ids in selection order.");
  m.def("coverage_gains", &coverage_gains, py::arg("indptr"), py::arg("indices"), py::arg("weights"),
        py::arg("covered") = py::none(), py::arg("threads") = 1,
        "Marginal gain of every set given a covered mask (None: nothing covered): float64[n_sets].");
  m.def("knapsack_grid", &knapsack_grid, py::arg("values"), py::arg("weights"), py::arg("capacity"),
        "Exact 0/1 knapsack over integer weights; chosen item ids (ascending).");
  bind_online(m);
  bind_placement(m);
}
