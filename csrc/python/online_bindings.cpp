// pybind11 glue of the online (Age of Context) caching core: checks every array of the inputs
// dict (dtype, dimension, contiguity, length), releases the GIL and replays the trace through
// trimcore::online::Cache. The core validates values and index ranges itself; its
// std::invalid_argument becomes trimcore.InstanceError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "trimcore/online.hpp"

namespace py = pybind11;

namespace {

[[noreturn]] void online_fail(const std::string& message) {
  py::object error = py::module_::import("trimcore.errors").attr("InstanceError");
  PyErr_SetString(error.ptr(), message.c_str());
  throw py::error_already_set();
}

py::handle item(const py::dict& d, const char* key) {
  if (!d.contains(key)) online_fail(std::string("inputs: missing '") + key + "'");
  return d[key];
}

// A 1-d (or `ndim`-d) C-contiguous array of dtype T from the dict, kept alive in `keep`.
template <class T>
trimcore::View<const T> view(const py::dict& d, const char* key, std::vector<py::array>& keep, int ndim = 1) {
  py::handle obj = item(d, key);
  if (!py::isinstance<py::array>(obj)) online_fail(std::string(key) + ": expected a NumPy array");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!py::detail::npy_api::get().PyArray_EquivTypes_(a.dtype().ptr(), py::dtype::of<T>().ptr()))
    online_fail(std::string(key) + ": expected dtype " + std::string(py::str(py::dtype::of<T>())) + ", got " +
                std::string(py::str(a.dtype())));
  if (a.ndim() != ndim) online_fail(std::string(key) + ": expected " + std::to_string(ndim) + " dimensions");
  if (!(a.flags() & py::array::c_style)) online_fail(std::string(key) + ": expected a C-contiguous array");
  keep.push_back(a);
  return {static_cast<const T*>(a.data()), static_cast<std::size_t>(a.size())};
}

template <class T>
T scalar(const py::dict& d, const char* key) {
  try {
    return item(d, key).cast<T>();
  } catch (const py::cast_error&) {
    online_fail(std::string(key) + ": expected a number");
  }
}

// The instance of an inputs dict (arrays kept alive in `keep`).
trimcore::online::Instance parse_instance(const py::dict& inp, std::vector<py::array>& keep) {
  trimcore::online::Instance in;
  in.n_servers = scalar<std::int64_t>(inp, "n_servers");
  in.n_models = scalar<std::int64_t>(inp, "n_models");
  in.n_tasks = scalar<std::int64_t>(inp, "n_tasks");
  in.blk_ptr = view<std::int64_t>(inp, "blk_ptr", keep);
  in.blk_idx = view<std::int64_t>(inp, "blk_idx", keep);
  in.blk_size = view<double>(inp, "blk_size", keep);
  in.model_size = view<double>(inp, "model_size", keep);
  in.cap = view<double>(inp, "cap", keep);
  in.model_tasks = view<std::uint8_t>(inp, "model_tasks", keep, 2);
  in.relevance = view<double>(inp, "relevance", keep, 2);
  in.window = view<std::int64_t>(inp, "window", keep);
  in.nu_pow = view<double>(inp, "nu_pow", keep);
  in.prune_age = scalar<std::int64_t>(inp, "prune_age");
  in.a0 = view<double>(inp, "a0", keep);
  in.amax = view<double>(inp, "amax", keep);
  in.kappa = view<double>(inp, "kappa", keep);
  in.curve = scalar<int>(inp, "curve");
  in.log_beta = scalar<double>(inp, "log_beta");
  in.eta_sub = scalar<double>(inp, "eta_sub");
  in.rho_sub = scalar<double>(inp, "rho_sub");
  in.ell_ex = scalar<double>(inp, "ell_ex");
  in.phi = view<double>(inp, "phi", keep);
  in.edge_flops = view<double>(inp, "edge_flops", keep);
  in.access = view<double>(inp, "access", keep);
  in.cloud_flops = scalar<double>(inp, "cloud_flops");
  in.cloud_lat = scalar<double>(inp, "cloud_lat");
  in.load_bw = scalar<double>(inp, "load_bw");
  in.w_L = scalar<double>(inp, "w_L");
  in.w_A = scalar<double>(inp, "w_A");
  in.w_S = scalar<double>(inp, "w_S");
  in.w_E = scalar<double>(inp, "w_E");
  in.w_C = scalar<double>(inp, "w_C");
  in.energy_per_flop = scalar<double>(inp, "energy_per_flop");
  in.cloud_price = view<double>(inp, "cloud_price", keep);
  in.persist = scalar<bool>(inp, "persist");
  in.lc_prior = scalar<double>(inp, "lc_prior");
  in.initial = view<std::uint8_t>(inp, "initial", keep, 2);
  return in;
}

trimcore::online::Flags parse_flags(int policy, const py::dict& flags_d) {
  trimcore::online::Flags fl;
  if (policy < 0 || policy > 8) online_fail("policy: expected a built-in policy code in 0..8");
  fl.policy = static_cast<trimcore::online::PolicyKind>(policy);
  fl.greedy_admission = scalar<bool>(flags_d, "greedy_admission");
  fl.allow_substitution = scalar<bool>(flags_d, "allow_substitution");
  fl.lc_grace_slots = scalar<std::int64_t>(flags_d, "lc_grace_slots");
  const std::string order = scalar<std::string>(flags_d, "lc_order");
  if (order != "min_value" && order != "max_age") online_fail("lc_order: expected 'min_value' or 'max_age'");
  fl.lc_max_age = order == "max_age";
  fl.lfu_reset_on_evict = scalar<bool>(flags_d, "lfu_reset_on_evict");
  fl.pin_models_used_this_slot = scalar<bool>(flags_d, "pin_models_used_this_slot");
  const std::string room = scalar<std::string>(flags_d, "make_room");
  if (room != "frees_first" && room != "policy_order") online_fail("make_room: expected 'frees_first' or 'policy_order'");
  fl.make_room_frees_first = room == "frees_first";
  fl.task_ewma = scalar<double>(flags_d, "task_ewma");
  fl.admission_horizon = scalar<double>(flags_d, "admission_horizon");
  fl.rng_seed = scalar<std::uint64_t>(flags_d, "rng_seed");
  return fl;
}

py::dict online_simulate(const py::dict& inp, int policy, const py::dict& flags_d) {
  std::vector<py::array> keep;
  const trimcore::online::Instance in = parse_instance(inp, keep);
  const auto slot = view<std::int64_t>(inp, "slot", keep);
  const auto server = view<std::int64_t>(inp, "server", keep);
  const auto model = view<std::int64_t>(inp, "model", keep);
  const auto task = view<std::int64_t>(inp, "task", keep);
  const auto tin = view<double>(inp, "tok_in", keep);
  const auto tout = view<double>(inp, "tok_out", keep);
  const auto next_use = view<std::int64_t>(inp, "next_use", keep);

  const trimcore::online::Flags fl = parse_flags(policy, flags_d);

  // outputs: "all" (default) the per-request arrays; "decisions" only outcome, served_by and the
  // evictions, with the sums of the costs (and accuracy, latency, loaded bytes) and the per-server
  // peak memory instead of the per-request float arrays (none of that memory is touched)
  std::string outputs = "all";
  if (flags_d.contains("outputs")) outputs = scalar<std::string>(flags_d, "outputs");
  if (outputs != "all" && outputs != "decisions") online_fail("outputs: expected 'all' or 'decisions'");
  const bool full = outputs == "all";

  const auto R = static_cast<py::ssize_t>(slot.size);
  const py::ssize_t Rf = full ? R : 0;
  py::array_t<std::int8_t> outcome(R);
  py::array_t<std::int64_t> served_by(R), evict_ptr(R + 1);
  py::array_t<double> accuracy(Rf), latency(Rf), aoc(Rf), loaded(Rf), memory_used(Rf), cost(Rf);
  py::array_t<double> costs({Rf, static_cast<py::ssize_t>(5)});
  py::array_t<double> totals(full ? 0 : trimcore::online::kTotals), peak(full ? 0 : in.n_servers);
  std::vector<std::int64_t> evicted;
  trimcore::online::ReplayOutput out{outcome.mutable_data(),  served_by.mutable_data(), nullptr, nullptr, nullptr,
                                     nullptr, nullptr, nullptr, nullptr, evict_ptr.mutable_data(), &evicted};
  if (full) {
    out.accuracy = accuracy.mutable_data();
    out.latency = latency.mutable_data();
    out.aoc = aoc.mutable_data();
    out.loaded_bytes = loaded.mutable_data();
    out.memory_used = memory_used.mutable_data();
    out.cost = cost.mutable_data();
    out.costs = costs.mutable_data();
  } else {
    out.totals = totals.mutable_data();
    out.peak = peak.mutable_data();
  }
  std::string error;
  {
    py::gil_scoped_release release;
    try {
      trimcore::online::replay(in, fl, slot, server, model, task, tin, tout, next_use, out);
    } catch (const std::invalid_argument& e) {
      error = e.what();
    }
  }
  if (!error.empty()) online_fail(error);
  py::array_t<std::int64_t> ev(static_cast<py::ssize_t>(evicted.size()));
  std::copy(evicted.begin(), evicted.end(), ev.mutable_data());
  py::dict res;
  res["outcome"] = outcome;
  res["served_by"] = served_by;
  res["evict_ptr"] = evict_ptr;
  res["evicted"] = ev;
  if (full) {
    res["accuracy"] = accuracy;
    res["latency"] = latency;
    res["aoc"] = aoc;
    res["loaded_bytes"] = loaded;
    res["memory_used"] = memory_used;
    res["costs"] = costs;
    res["cost"] = cost;
  } else {
    res["totals"] = totals;
    res["peak_memory"] = peak;
  }
  return res;
}

// A cache a simulator steps request by request (the same trimcore::online::Cache the replay uses).
class OnlineStepper {
 public:
  OnlineStepper(const py::dict& inp, int policy, const py::dict& flags) {
    in_ = parse_instance(inp, keep_);
    const trimcore::online::Flags fl = parse_flags(policy, flags);
    if (fl.policy == trimcore::online::PolicyKind::Belady)
      online_fail("policy: 'belady' needs the future of the trace; step a causal policy");
    try {
      cache_ = std::make_unique<trimcore::online::Cache>(in_, fl);
    } catch (const std::invalid_argument& e) {
      online_fail(e.what());
    }
  }

  // (outcome code, served_by, accuracy, latency, aoc, loaded_bytes, memory_used, cost, evicted models)
  py::tuple request(std::int64_t slot, std::int64_t server, std::int64_t model, std::int64_t task, double tokens_in,
                    double tokens_out) {
    trimcore::online::Request rq;
    rq.slot = slot;
    rq.server = server;
    rq.model = model;
    rq.task = task;
    rq.tokens_in = tokens_in;
    rq.tokens_out = tokens_out;
    trimcore::online::Decision d;
    try {
      d = cache_->on_request(rq);
    } catch (const std::invalid_argument& e) {
      online_fail(e.what());
    }
    const auto& gone = cache_->evicted();
    py::tuple evicted(gone.size());
    for (std::size_t k = 0; k < gone.size(); ++k) evicted[k] = py::int_(gone[k]);
    py::tuple costs(5);
    for (std::size_t k = 0; k < 5; ++k) costs[k] = py::float_(d.costs[k]);
    return py::make_tuple(static_cast<int>(d.outcome), d.served_by, d.accuracy, d.latency, d.aoc, d.loaded_bytes,
                          d.memory_used, d.cost, costs, evicted);
  }

 private:
  std::vector<py::array> keep_;  // the arrays in_ views; declared first so they outlive the cache
  trimcore::online::Instance in_;
  std::unique_ptr<trimcore::online::Cache> cache_;
};

}  // namespace

void bind_online(py::module_& m) {
  py::class_<OnlineStepper>(m, "OnlineStepper")
      .def(py::init<const py::dict&, int, const py::dict&>(), py::arg("inputs"), py::arg("policy"), py::arg("flags"))
      .def("request", &OnlineStepper::request, py::arg("slot"), py::arg("server"), py::arg("model"), py::arg("task"),
           py::arg("tokens_in"), py::arg("tokens_out"),
           "Decide one request (arrival order): (outcome, served_by, accuracy, latency, aoc, loaded_bytes, "
           "memory_used, cost, costs, evicted).");
  m.def("online_simulate", &online_simulate, py::arg("inputs"), py::arg("policy"), py::arg("flags"),
        "Replay a request trace through the shared AoC caching skeleton with one built-in policy; "
        "per-request decisions and costs (dict of arrays).");
}
