"""Baseten: its domain types (models), its errors (errors) and the API client (client)."""
