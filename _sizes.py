import time, sys
import trimcore as tc
from trimcore.pulling.instances import paper_instance
cases = [
  ("reduced", "per_request", (100, 300, 10)), ("full", "per_request", (100, 300, 10)),
  ("reduced", "global", (100, 300, 10)), ("full", "global", (100, 300, 10)),
  ("reduced", "per_request", (125, 10000, 100)),
  ("reduced", "global", (125, 1000, 50)), ("full", "per_request", (125, 1000, 50)),
  ("reduced", "global", (125, 3000, 100)),("full", "per_request", (125, 3000, 100)),
]
for form, pull, (n, j, k) in cases:
    pp = paper_instance(n, j, k, max(1, k // 10), seed=0, pull_delay=pull)
    t = time.time()
    r = tc.pulling_optimal(pp, time_limit=60, formulation=form)
    print(form, pull, n, j, k, r.status, round(time.time() - t, 2), "gap", r.gap, flush=True)
