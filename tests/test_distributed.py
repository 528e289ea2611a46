"""A compiled program on a dask.distributed cluster: X in many row chunks, checked against numpy.

The cluster is local (two workers, one thread each, in this process), bound to 127.0.0.1 over
TCP so the graph and the chunks really travel through the scheduler, and closed at the end.
"""

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

from test_backends import _logistic, _mlp  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1", dashboard_address=None) as lc, \
            distributed.Client(lc) as c:
        yield c


def test_logistic_hessian_on_a_cluster_matches_numpy(client):
    H, values, hand = _logistic(n=800, d=5, seed=5)
    compiled = H.compile()
    X = da.from_array(values["X"], chunks=(100, 5))  # 8 row chunks
    y = da.from_array(values["y"], chunks=100)
    ct = compiled({"X": X, "y": y, "w": values["w"]})
    lazy = ct.dense()
    assert isinstance(lazy, da.Array)  # nothing computed yet: a graph over the 8 chunks
    future = client.compute(lazy)
    np.testing.assert_allclose(future.result(), hand, rtol=1e-10)
    assert len(client.scheduler_info()["workers"]) == 2


def test_mlp_gradients_on_a_cluster_match_backprop(client):
    grads, values, hand = _mlp(n=480, sizes=(6, 5, 3), seed=6)
    lazy = {k: da.from_array(v, chunks=(60, v.shape[1])) if k in ("X", "Y") else v
            for k, v in values.items()}  # X and Y in 8 row chunks
    assert lazy["X"].numblocks == (8, 1)
    outs = [g.compile()(lazy).dense() for g in grads]
    assert all(isinstance(o, da.Array) for o in outs)
    computed = client.gather(client.compute(outs))
    for got, expected in zip(computed, hand, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
