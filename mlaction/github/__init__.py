"""GitHub: the REST client, the runner (event, inputs, workflow commands), publishing."""
