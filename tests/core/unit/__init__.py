"""Unit tests of the Python CoreWorker's components, in process with fakes (no cluster)."""
