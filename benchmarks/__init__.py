"""Speed and memory benchmarks of gym-gesture (`python -m benchmarks.run`)."""
