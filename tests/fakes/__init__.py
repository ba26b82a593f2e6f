"""Fakes of the platforms' web APIs, shared by the adapter tests, the tips tests and the benchmarks."""
