"""Casewise indexer: tickets and articles -> chunks -> vectors and keywords -> ranked hits."""
