from throttle import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_up_to_capacity():
    bucket = TokenBucket(rate=1, capacity=3, clock=FakeClock())
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]


def test_refills_at_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=4, capacity=4, clock=clock)
    for _ in range(4):
        bucket.try_acquire()
    clock.now += 0.5  # 4 tokens/s for half a second: 2 tokens
    assert bucket.try_acquire(2)
    assert not bucket.try_acquire()


def test_never_exceeds_capacity():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, capacity=2, clock=clock)
    clock.now += 60
    assert bucket.try_acquire(2)
    assert not bucket.try_acquire()


def test_wait_time():
    clock = FakeClock()
    bucket = TokenBucket(rate=2, capacity=1, clock=clock)
    bucket.try_acquire()
    assert bucket.wait_time() == 0.5
