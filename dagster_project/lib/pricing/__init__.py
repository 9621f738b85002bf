"""Pricing of LLM calls: token categories, price versions, repricing (issue 10, docs/pricing.md)."""
