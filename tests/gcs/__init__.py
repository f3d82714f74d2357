"""Tests of the GCS (polyray.gcs) against real gRPC servers and fake raylets/workers."""
