"""A function the lease-proof test pushes by module and name (no function table)."""


def touch(path: str) -> int:
    """Leaves ``path`` behind: the task ran."""
    with open(path, "w") as f:
        f.write("ran")
    return 7
