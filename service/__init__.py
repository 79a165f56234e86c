"""Casewise service: HTTP API, web pages and the `casewise` CLI."""
