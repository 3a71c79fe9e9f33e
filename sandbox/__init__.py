"""Wire-faithful simulators of the platforms the hub talks to (for the demo, tests and benches)."""
