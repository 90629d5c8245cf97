"""Benchmarks: protocols (YAML specs), the corpus builder, dataset adapters and executors."""
