"""Tests of the raylet (python/polyray/raylet)."""
