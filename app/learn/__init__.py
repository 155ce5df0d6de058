"""Learning from labelled tickets: the local model, its training, and labels from Zendesk history."""
