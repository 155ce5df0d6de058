"""``python -m sim.zendesk``: serve the Zendesk simulator until SIGTERM or SIGINT (see --help)."""

from sim.zendesk.app import main

if __name__ == "__main__":
    main()
