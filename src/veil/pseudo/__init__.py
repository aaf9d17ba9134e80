"""Pseudonymisation: consistent per-session surrogates for personal values, and their vault."""
