"""Settings are per context and interning is atomic (issue 13, item 8)."""

import asyncio
import sys
import threading

import numpy as np
import pytest

import tensorderiv as td
from tensorderiv.symbolic.nodes import Einsum, Var


@pytest.fixture
def free_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def test_a_with_block_in_one_thread_is_not_seen_by_another():
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def tight():
        with td.dense_limit(1000):
            seen["tight"] = td.get_dense_limit()
            inside.set()
            done.wait(5)

    t = threading.Thread(target=tight)
    t.start()
    assert inside.wait(5)
    # 720 kB, well under the default 1 GiB: the other thread's 1000 bytes must not apply here
    ct = td.derive(td.var("x", (300,)) * 1.0, "x").evaluate({"x": np.ones(300)})
    assert ct.dense().nbytes == 720_000
    seen["here"] = td.get_dense_limit()
    done.set()
    t.join()
    assert seen == {"tight": 1000, "here": 1 << 30}


def test_overlapping_blocks_in_threads_restore_the_default(free_switching):
    barrier = threading.Barrier(8)
    errors = []

    def worker(n):
        try:
            barrier.wait(5)
            for _ in range(200):
                with td.dense_limit(10 + n):
                    assert td.get_dense_limit() == 10 + n
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert td.get_dense_limit() == 1 << 30


def test_asyncio_tasks_keep_their_own_settings():
    async def task(limit, out):
        with td.dense_limit(limit):
            await asyncio.sleep(0)  # let the other task run inside its own block
            out.append((limit, td.get_dense_limit()))

    async def main():
        out = []
        await asyncio.gather(task(100, out), task(200, out))
        return out

    assert sorted(asyncio.run(main())) == [(100, 100), (200, 200)]


def test_set_dense_limit_is_process_wide_and_checked():
    td.set_dense_limit(12345)
    try:
        seen = []
        t = threading.Thread(target=lambda: seen.append(td.get_dense_limit()))
        t.start()
        t.join()
        assert seen == [12345]
    finally:
        td.set_dense_limit(1 << 30)
    for bad in (0, -1, 2.5, "10", True):
        with pytest.raises(td.OptionError, match="positive whole number of bytes"):
            td.set_dense_limit(bad)
    with pytest.raises(td.OptionError), td.dense_limit(0):
        pass


def test_interning_is_atomic_under_free_switching(free_switching):
    # each round builds fresh keys from 8 threads at once; one object per key must come out
    distinct = []
    for round_ in range(40):
        barrier = threading.Barrier(8)
        built = [None] * 8

        def build(i, round_=round_, barrier=barrier, built=built):
            barrier.wait(5)
            x = Var.make(f"x{round_}", (3,))
            built[i] = [Einsum.make(float(k + 1), ((x, (0,)), (x, (0,))), ()) for k in range(8)]

        threads = [threading.Thread(target=build, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for k in range(8):
            distinct.append(len({id(b[k]) for b in built}))
    assert set(distinct) == {1}


def test_like_terms_merge_when_built_from_threads(free_switching):
    results = []

    def build():
        x = td.var("shared_x", (2,))
        results.append(td.sum(x * x) + td.sum(x * x))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(r.node) for r in results}) == 1
    assert td.evaluate(results[0], {"shared_x": np.array([1.0, 2.0])}).dense() == 10.0
