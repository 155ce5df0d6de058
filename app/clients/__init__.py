"""One client per external service (Zendesk, the LLM), each with typed errors and a breaker whose
state every process shares through Redis."""
