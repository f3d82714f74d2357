"""polyray: a distributed runtime whose tasks, actors and objects cross languages."""

__version__ = "0.1.0"
