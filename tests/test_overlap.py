"""Reading ahead and writing behind (``core.overlap``): order kept, errors raised where the
caller is, nothing left running."""

from __future__ import annotations

import threading
import time

import pytest

from core.overlap import WriteBehind, read_ahead


def test_read_ahead_yields_every_item_in_order_from_another_thread():
    seen_in = []

    def items():
        for k in range(50):
            seen_in.append(threading.current_thread().name)
            yield k

    assert list(read_ahead(items(), depth=3)) == list(range(50))
    assert set(seen_in) == {"read-ahead"}


def test_read_ahead_stays_within_its_depth():
    made = []

    def items():
        for k in range(100):
            made.append(k)
            yield k

    stream = read_ahead(items(), depth=4)
    assert next(stream) == 0
    time.sleep(0.2)
    assert len(made) <= 1 + 4 + 1, "the producer waits once the queue is full"
    stream.close()


def test_an_error_while_reading_reaches_the_consumer_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise OSError("disk gone")

    stream = read_ahead(items())
    assert [next(stream), next(stream)] == [1, 2]
    with pytest.raises(OSError, match="disk gone"):
        next(stream)


def test_stopping_early_stops_the_reader():
    before = threading.active_count()

    def endless():
        k = 0
        while True:
            yield k
            k += 1

    stream = read_ahead(endless(), depth=2)
    assert next(stream) == 0
    stream.close()
    time.sleep(0.1)
    assert threading.active_count() == before


def test_write_behind_runs_jobs_in_order_off_the_callers_thread():
    done, where = [], set()
    writer = WriteBehind(depth=2)
    for k in range(20):
        writer.submit(lambda k=k: (done.append(k), where.add(threading.current_thread().name)))
    writer.close()
    assert done == list(range(20)) and where == {"write-behind"}


def test_a_failed_write_is_raised_to_the_caller_and_later_jobs_do_not_run():
    done = []
    writer = WriteBehind(depth=1)

    def fail():
        raise OSError("no space left on device")

    writer.submit(fail)
    time.sleep(0.1)
    with pytest.raises(OSError, match="no space"):
        writer.submit(lambda: done.append("after"))
    writer.close()
    assert done == []
