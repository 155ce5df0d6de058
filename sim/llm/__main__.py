"""``python -m sim.llm``: serve the OpenAI simulator until SIGTERM or SIGINT (see --help)."""

from sim.llm.app import main

if __name__ == "__main__":
    main()
