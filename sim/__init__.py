"""Simulators that speak the real wire protocols of the services the fleet talks to.

Run them as modules (``python -m sim.zendesk``) for demos and benchmarks, or import
them in tests (``sim.zendesk.running_simulator``).
"""
