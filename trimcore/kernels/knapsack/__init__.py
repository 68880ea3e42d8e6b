"""Knapsack kernels, one module per tier (see :mod:`trimcore.kernels`)."""
