// pybind11 glue of the one-line C++ placement API (trimcore/placement.hpp): reads NumPy arrays
// (dtype, contiguity, the dimensions needed to slice them), copies them into the core's vectors
// and calls its factories and algorithms. Every value and size check is the core's own: its
// InstanceDefect becomes trimcore.InstanceError with the core's message.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "trimcore/placement.hpp"
#include "trimcore/spec.hpp"

namespace py = pybind11;

namespace {

[[noreturn]] void placement_fail(const std::string& message) {
  py::object error = py::module_::import("trimcore.errors").attr("InstanceError");
  PyErr_SetString(error.ptr(), message.c_str());
  throw py::error_already_set();
}

// A C-contiguous array of dtype T with `ndim` dimensions (-1: any), as a NumPy handle.
template <class T>
py::array array_of(const py::handle& obj, const char* name, int ndim) {
  if (!py::isinstance<py::array>(obj)) placement_fail(std::string(name) + ": expected a NumPy array");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!py::detail::npy_api::get().PyArray_EquivTypes_(a.dtype().ptr(), py::dtype::of<T>().ptr()))
    placement_fail(std::string(name) + ": expected dtype " + std::string(py::str(py::dtype::of<T>())) + ", got " +
                   std::string(py::str(a.dtype())));
  if (ndim >= 0 && a.ndim() != ndim)
    placement_fail(std::string(name) + ": expected " + std::to_string(ndim) + " dimensions, got " +
                   std::to_string(a.ndim()));
  if (!(a.flags() & py::array::c_style)) placement_fail(std::string(name) + ": expected a C-contiguous array");
  return a;
}

template <class T>
std::vector<T> vec(const py::array& a) {
  const T* p = static_cast<const T*>(a.data());
  return std::vector<T>(p, p + a.size());
}

template <class T>
std::vector<T> vec_of(const py::handle& obj, const char* name, int ndim = 1) {
  return vec<T>(array_of<T>(obj, name, ndim));
}

// Block ids per model from a CSR (indptr int64[I + 1], indices int64): the offsets are checked
// by the core's check_csr_offsets before slicing; the ids themselves by the factory.
std::vector<std::vector<std::int64_t>> model_blocks(const py::handle& indptr_o, const py::handle& indices_o) {
  const std::vector<std::int64_t> indptr = vec_of<std::int64_t>(indptr_o, "indptr");
  const std::vector<std::int64_t> indices = vec_of<std::int64_t>(indices_o, "indices");
  if (trimcore::check_csr_offsets(indptr.data(), indptr.size(), static_cast<std::int64_t>(indices.size())) >= 0)
    placement_fail("indptr: expected non-decreasing CSR offsets from 0 to " + std::to_string(indices.size()));
  std::vector<std::vector<std::int64_t>> out(indptr.size() - 1);
  for (std::size_t i = 0; i + 1 < indptr.size(); ++i)
    out[i].assign(indices.begin() + indptr[i], indices.begin() + indptr[i + 1]);
  return out;
}

// popularity float64[K, I] (the API's layout, flattened k * I + i); its columns must be the models.
std::vector<double> popularity(const py::handle& obj, std::size_t n_models) {
  const py::array a = array_of<double>(obj, "popularity", 2);
  if (static_cast<std::size_t>(a.shape(1)) != n_models)
    placement_fail("popularity: expected shape (K, " + std::to_string(n_models) + "), got " +
                   std::to_string(a.shape(1)) + " columns");
  return vec<double>(a);
}

// Demand: dense popularity float64[K, I] (as before), or a tuple (by_model float64[I, G], group
// int32[K], rate float64[K] or None) of trimcore.placement.demand's factored form (values checked by
// the core). Returns the number of users too.
std::pair<trimcore::Popularity, std::int64_t> demand_of(const py::handle& obj, std::size_t n_models) {
  if (!py::isinstance<py::tuple>(obj)) {
    const py::array a = array_of<double>(obj, "popularity", 2);
    return {trimcore::Popularity(popularity(obj, n_models)), static_cast<std::int64_t>(a.shape(0))};
  }
  const py::tuple t = py::reinterpret_borrow<py::tuple>(obj);
  if (t.size() != 3) placement_fail("popularity: expected (by_model, group, rate)");
  const py::array by_model = array_of<double>(t[0], "group_popularity", 2);
  if (static_cast<std::size_t>(by_model.shape(0)) != n_models)
    placement_fail("group_popularity: expected " + std::to_string(n_models) + " rows (by model), got " +
                   std::to_string(by_model.shape(0)));
  trimcore::FactoredDemand d;
  d.by_model = vec<double>(by_model);
  d.n_groups = static_cast<std::size_t>(by_model.shape(1));
  d.group = vec_of<std::int32_t>(t[1], "group");
  if (!t[2].is_none()) d.rate = vec_of<double>(t[2], "rate");
  const auto n_users = static_cast<std::int64_t>(d.group.size());
  return {trimcore::Popularity(std::move(d)), n_users};
}

using Problem = trimcore::PlacementProblem;
using ProblemPtr = std::shared_ptr<Problem>;  // never mutated: Problem has no mutating member

ProblemPtr from_max_size(const py::handle& block_sizes, const py::handle& indptr, const py::handle& indices,
                         const py::handle& capacity, const py::handle& pop, const py::handle& max_size) {
  auto blocks = model_blocks(indptr, indices);
  const py::array smax = array_of<double>(max_size, "max_size", 2);
  std::vector<double> c = vec_of<double>(capacity, "capacity");
  if (static_cast<std::size_t>(smax.shape(0)) != c.size())
    placement_fail("max_size: expected shape (M, K) with M = " + std::to_string(c.size()) + ", got " +
                   std::to_string(smax.shape(0)) + " rows");
  trimcore::Popularity p = demand_of(pop, blocks.size()).first;
  return std::make_shared<Problem>(Problem::from_max_size(vec_of<double>(block_sizes, "block_sizes"),
                                                                std::move(blocks), std::move(c), std::move(p),
                                                                vec<double>(smax)));
}

ProblemPtr from_pairs(const py::handle& block_sizes, const py::handle& indptr, const py::handle& indices,
                      const py::handle& capacity, const py::handle& pop, const py::handle& pair_ptr,
                      const py::handle& pair_len, const py::handle& pair_users) {
  auto blocks = model_blocks(indptr, indices);
  auto [p, n_users] = demand_of(pop, blocks.size());
  return std::make_shared<Problem>(Problem::from_pairs(
      vec_of<double>(block_sizes, "block_sizes"), std::move(blocks), vec_of<double>(capacity, "capacity"),
      std::move(p), vec_of<std::int64_t>(pair_ptr, "pair_ptr"),
      vec_of<std::int64_t>(pair_len, "pair_len"), vec_of<std::int32_t>(pair_users, "pair_users"), n_users));
}

ProblemPtr from_prefixes(const py::handle& block_sizes, const py::handle& indptr, const py::handle& indices,
                         const py::handle& capacity, const py::handle& pop, const py::handle& server_ptr,
                         const py::handle& server_users, const py::handle& pair_len, std::int64_t n_users) {
  auto blocks = model_blocks(indptr, indices);
  trimcore::Popularity p = demand_of(pop, blocks.size()).first;
  return std::make_shared<Problem>(Problem::from_prefixes(
      vec_of<double>(block_sizes, "block_sizes"), std::move(blocks), vec_of<double>(capacity, "capacity"),
      std::move(p), vec_of<std::int64_t>(server_ptr, "server_ptr"), vec_of<std::int32_t>(server_users, "server_users"),
      vec_of<std::int64_t>(pair_len, "pair_len"), n_users));
}

ProblemPtr from_dense(const py::handle& block_sizes, const py::handle& indptr, const py::handle& indices,
                      const py::handle& capacity, const py::handle& pop, const py::handle& eligible_o) {
  auto blocks = model_blocks(indptr, indices);
  const py::array e = array_of<bool>(eligible_o, "eligible", 3);
  const std::int64_t n_users = e.shape(1);
  trimcore::Popularity p = demand_of(pop, blocks.size()).first;
  return std::make_shared<Problem>(Problem::from_dense(vec_of<double>(block_sizes, "block_sizes"),
                                                             std::move(blocks), vec_of<double>(capacity, "capacity"),
                                                             std::move(p), vec<std::uint8_t>(e), n_users));
}

// A placement bool[M, I] of `problem` (the shape is read here, the values are the core's to check).
std::vector<std::uint8_t> placement_of(const Problem& problem, const py::handle& obj, const char* name) {
  const py::array a = array_of<bool>(obj, name, 2);
  if (a.shape(0) != problem.n_servers() || a.shape(1) != problem.n_models())
    placement_fail(std::string(name) + ": expected shape (" + std::to_string(problem.n_servers()) + ", " +
                   std::to_string(problem.n_models()) + "), got (" + std::to_string(a.shape(0)) + ", " +
                   std::to_string(a.shape(1)) + ")");
  return vec<std::uint8_t>(a);
}

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

trimcore::GenRule parse_gen_rule(const std::string& rule) {
  if (rule == "best_of_both") return trimcore::GenRule::best_of_both;
  if (rule == "ratio") return trimcore::GenRule::ratio;
  if (rule == "gain") return trimcore::GenRule::gain;
  placement_fail("rule: expected 'best_of_both', 'ratio' or 'gain', got '" + rule + "'");
}

const char* rule_name(trimcore::GenRule rule) {
  switch (rule) {
    case trimcore::GenRule::ratio: return "ratio";
    case trimcore::GenRule::gain: return "gain";
    default: return "best_of_both";
  }
}

py::tuple trimcaching_gen(const ProblemPtr& problem, const std::string& rule, bool lazy, const py::handle& warm_o) {
  trimcore::GenOptions options;
  options.rule = parse_gen_rule(rule);
  options.lazy = lazy;
  if (!warm_o.is_none()) options.warm_start = placement_of(*problem, warm_o, "warm_start");
  trimcore::GenResult r;
  {
    py::gil_scoped_release release;
    r = trimcore::trimcaching_gen(*problem, options);
  }
  py::array_t<bool> x({static_cast<py::ssize_t>(problem->n_servers()), static_cast<py::ssize_t>(problem->n_models())});
  std::copy(r.placement.begin(), r.placement.end(), reinterpret_cast<std::uint8_t*>(x.mutable_data()));
  return py::make_tuple(x, r.hit_weight, r.hit_ratio, rule_name(r.chosen_rule), r.kept);
}

trimcore::KnapsackMethod parse_knapsack(const std::string& method) {
  if (method == "auto") return trimcore::KnapsackMethod::automatic;
  if (method == "fptas") return trimcore::KnapsackMethod::fptas;
  if (method == "grid") return trimcore::KnapsackMethod::grid;
  placement_fail("knapsack: expected 'auto', 'fptas' or 'grid', got '" + method + "'");
}

// TrimCaching Spec (atomic: independent caching): (placement bool[M, I], counters as Python names them).
py::tuple trimcaching_spec(const ProblemPtr& problem, double eps, const std::string& knapsack, std::int64_t grid_cells,
                           std::int64_t max_combinations, const py::handle& order_o, bool atomic,
                           std::int64_t grid_cell_limit, double fptas_table_limit, double fptas_hard_limit) {
  trimcore::SpecOptions o;
  o.eps = eps;
  o.knapsack = parse_knapsack(knapsack);
  o.grid_cells = grid_cells;
  o.max_combinations = max_combinations;
  if (!order_o.is_none()) o.server_order = vec_of<std::int64_t>(order_o, "server_order");
  o.atomic = atomic;
  o.grid_cell_limit = grid_cell_limit;
  o.fptas_table_limit = fptas_table_limit;
  o.fptas_hard_limit = fptas_hard_limit;
  trimcore::SpecResult r;
  {
    py::gil_scoped_release release;
    r = trimcore::trimcaching_spec(*problem, o);
  }
  py::array_t<bool> x({static_cast<py::ssize_t>(problem->n_servers()), static_cast<py::ssize_t>(problem->n_models())});
  std::copy(r.placement.begin(), r.placement.end(), reinterpret_cast<std::uint8_t*>(x.mutable_data()));
  py::dict counters;
  counters["knapsacks"] = r.knapsacks;
  counters["pruned"] = r.pruned;
  counters["most_combinations"] = r.most_combinations;
  // as Python's loop names them, present once used
  if (r.knapsack_grid_exact) counters["knapsack_grid_exact"] = r.knapsack_grid_exact;
  if (r.knapsack_fptas) counters["knapsack_fptas"] = r.knapsack_fptas;
  if (r.knapsack_grid) counters["knapsack_grid"] = r.knapsack_grid;
  if (r.knapsack_auto) counters["knapsack_auto"] = r.knapsack_auto;
  return py::make_tuple(x, counters, r.hit_weight, r.hit_ratio);
}

// Every entry point through here: the core's InstanceDefect becomes trimcore.InstanceError at the
// call itself (a global pybind11 translator can be pre-empted by another extension's, registered later).
template <class R, class... A>
auto guarded(R (*f)(A...)) {
  return [f](A... a) -> R {
    try {
      return f(std::forward<A>(a)...);
    } catch (const trimcore::InstanceDefect& e) {
      placement_fail(e.what());
    }
  };
}

double problem_hit_weight(const ProblemPtr& p, const py::handle& x) {
  const std::vector<std::uint8_t> placement = placement_of(*p, x, "placement");
  py::gil_scoped_release release;
  return trimcore::hit_weight(*p, placement);
}

py::array_t<double> problem_storage_used(const ProblemPtr& p, const py::handle& x) {
  const std::vector<std::uint8_t> placement = placement_of(*p, x, "placement");
  std::vector<double> used;
  {
    py::gil_scoped_release release;
    used = trimcore::storage_used(*p, placement);
  }
  return to_numpy(used);
}

}  // namespace

void bind_placement(py::module_& m) {
  // a fallback for anything not guarded: module-local, so tried before other extensions' translators
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const trimcore::InstanceDefect& e) {
      py::object error = py::module_::import("trimcore.errors").attr("InstanceError");
      PyErr_SetString(error.ptr(), e.what());
    }
  });
  m.attr("GREEDY_RTOL") = trimcore::kGreedyRtol;
  py::class_<Problem, ProblemPtr>(m, "PlacementProblem",
                                  "A validated, owned C++ placement problem (trimcore/placement.hpp).")
      .def_static("from_prefixes", guarded(&from_prefixes), py::arg("block_sizes"), py::arg("indptr"),
                  py::arg("indices"), py::arg("capacity"), py::arg("popularity"), py::arg("server_ptr"),
                  py::arg("server_users"), py::arg("pair_len"), py::arg("n_users"),
                  "Pairs as prefixes of per-server user lists (PlacementProblem.from_reach); popularity float64[K, I] "
                  "or the factored (by_model, group, rate).")
      .def_static("from_max_size", guarded(&from_max_size), py::arg("block_sizes"), py::arg("indptr"), py::arg("indices"),
                  py::arg("capacity"), py::arg("popularity"), py::arg("max_size"),
                  "eligible[m, k, i] = model_size[i] <= max_size[m, k]; popularity float64[K, I].")
      .def_static("from_pairs", guarded(&from_pairs), py::arg("block_sizes"), py::arg("indptr"), py::arg("indices"),
                  py::arg("capacity"), py::arg("popularity"), py::arg("pair_ptr"), py::arg("pair_len"),
                  py::arg("pair_users"), "Explicit pair lists (strictly increasing users per pair).")
      .def_static("from_dense", guarded(&from_dense), py::arg("block_sizes"), py::arg("indptr"), py::arg("indices"),
                  py::arg("capacity"), py::arg("popularity"), py::arg("eligible"),
                  "Dense eligibility bool[M, K, I].")
      .def_property_readonly("n_servers", &Problem::n_servers)
      .def_property_readonly("n_users", &Problem::n_users)
      .def_property_readonly("n_models", &Problem::n_models)
      .def_property_readonly("total_popularity", &Problem::total_popularity)
      .def_property_readonly("is_compact", &Problem::is_compact)
      .def_property_readonly("model_sizes", [](const Problem& p) { return to_numpy(p.model_sizes()); })
      .def_property_readonly("pair_ptr", [](const Problem& p) { return to_numpy(p.pair_ptr()); })
      .def_property_readonly("pair_len", [](const Problem& p) { return to_numpy(p.pair_len()); })
      .def_property_readonly("pair_users", [](const Problem& p) { return to_numpy(p.pair_users()); })
      .def("hit_weight", guarded(&problem_hit_weight), py::arg("placement"),
           "Total popularity served by a placement bool[M, I].")
      .def("storage_used", guarded(&problem_storage_used), py::arg("placement"),
           "Union-of-blocks storage per server, float64[M].");
  m.def("trimcaching_spec", guarded(&trimcaching_spec), py::arg("problem"), py::arg("eps"), py::arg("knapsack"),
        py::arg("grid_cells"), py::arg("max_combinations"), py::arg("server_order"), py::arg("atomic"),
        py::arg("grid_cell_limit"), py::arg("fptas_table_limit"), py::arg("fptas_hard_limit"),
        "TrimCaching Spec in C++ (trimcore::trimcaching_spec; atomic: independent caching): "
        "(placement bool[M, I], counters, hit_weight, hit_ratio).");
  m.def("trimcaching_gen", guarded(&trimcaching_gen), py::arg("problem"), py::arg("rule") = "best_of_both",
        py::arg("lazy") = true, py::arg("warm_start") = py::none(),
        "TrimCaching Gen in C++ (trimcore::trimcaching_gen): (placement bool[M, I], hit_weight, hit_ratio, "
        "chosen_rule, kept).");
}
