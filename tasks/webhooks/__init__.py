"""Webhooks: the delivery model, its store, the SSRF policy and their Lua scripts."""
