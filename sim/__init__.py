"""Simulators that speak the real wire protocols of the services the fleet talks to.

Run them as modules (``python -m sim.zendesk``, ``python -m sim.llm``) for demos and
benchmarks, or import them in tests (``sim.zendesk.running_simulator``). ``sim.common``
holds what both share (settings, errors, rate limits, serving); ``sim.ticketgen`` writes the
Zendesk simulator's tickets from the phrases in ``sim.ticket_phrases``.
"""
