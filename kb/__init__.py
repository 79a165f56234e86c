"""Casewise domain and storage: tickets, articles, audit trail, index outbox (SQLite)."""
