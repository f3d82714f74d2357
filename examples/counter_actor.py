"""A Counter actor that keeps a history of its values.

Calls from one caller run in submission order; the actor's state lives in
its own worker process between calls. Handles can be passed to tasks.
"""

import polyray


@polyray.remote
class Counter:
    def __init__(self, start: int = 0) -> None:
        self.value = start
        self.history: list[int] = []

    def increment(self, by: int = 1) -> int:
        self.value += by
        self.history.append(self.value)
        return self.value

    def get_history(self) -> list[int]:
        return self.history


@polyray.remote
def bump_from_task(counter, times: int) -> int:
    # A task holding the actor's handle calls it like the driver does.
    return polyray.get([counter.increment.remote() for _ in range(times)])[-1]


def main() -> None:
    polyray.init()
    counter = Counter.options(name="the-counter").remote(start=10)
    refs = [counter.increment.remote(by=i) for i in range(1, 6)]
    print("values:", polyray.get(refs))
    print("after a task bumped it 3 times:", polyray.get(bump_from_task.remote(counter, 3)))
    same = polyray.get_actor("the-counter")
    print("history (via get_actor):", polyray.get(same.get_history.remote()))
    assert polyray.get(same.get_history.remote()) == [11, 13, 16, 20, 25, 26, 27, 28]
    polyray.shutdown()


if __name__ == "__main__":
    main()
