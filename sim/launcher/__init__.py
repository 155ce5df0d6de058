"""The fleet launcher: a whole fleet on one machine against the simulators (`launcher.stack`), and
`make demo` (`python -m sim.launcher.demo`). It starts the fleet's own commands, so it depends on app/;
the simulators in sim/ do not, and stay usable against any client.
"""
