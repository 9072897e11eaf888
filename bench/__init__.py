"""Benchmarks (docs/performance.md): a set-based data loader and the timed
runs behind `./dev bench`. Nothing here is imported by the application."""
