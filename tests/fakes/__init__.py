"""Test doubles for external services (served over loopback, never the network)."""
