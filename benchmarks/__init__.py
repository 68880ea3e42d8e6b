"""asv benchmark suite of trimcore (configuration: ``asv.conf.json`` at the repository root).

Instances come from the seeded generators in :mod:`benchmarks.instances`; see ``docs/performance.md``
for the tables and the commands that regenerate them.
"""
