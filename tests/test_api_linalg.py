"""qr and svd (tensor_api/linalg.py) against torch.linalg on fresh random matrices.

Factors are checked by what defines them (reconstruction, orthonormality, triangularity, descending singular
values) and against torch: R and Q directly (Householder with LAPACK's sign convention gives the same factors),
singular values directly, singular vectors up to sign. Gradients are not part of the contract here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinygrad import Tensor
from tinygrad.dtype import dtypes
from tinygrad.errors import ShapeError

F32 = {"rtol": 1e-4, "atol": 2e-5}

SHAPES = [(3, 3), (4, 2), (2, 4), (2, 3, 3), (1, 1), (3, 1), (1, 3), (2, 1, 2, 3)]


def randf(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def eye_like(x: np.ndarray, n: int) -> np.ndarray:
    return np.broadcast_to(np.eye(n, dtype=x.dtype), x.shape[:-2] + (n, n))


def mT(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


# ---------------------------------------------------------------- qr


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_qr_matches_torch(rng, shape):
    a = randf(rng, *shape)
    q, r = Tensor(a).qr()
    tq, tr = torch.linalg.qr(torch.tensor(a))
    assert q.shape == tuple(tq.shape) and r.shape == tuple(tr.shape)
    qn, rn = q.numpy(), r.numpy()
    np.testing.assert_allclose(qn @ rn, a, **F32)
    np.testing.assert_allclose(mT(qn) @ qn, eye_like(qn, qn.shape[-1]), **F32)
    assert (np.tril(rn, -1) == 0).all()
    np.testing.assert_allclose(qn, tq.numpy(), **F32)
    np.testing.assert_allclose(rn, tr.numpy(), **F32)


def test_qr_special_inputs(rng):
    # a column with nothing below the diagonal is not reflected (LAPACK's tau = 0), zero columns stay finite
    a = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 0.0], [0.0, 4.0, 0.0]], np.float32)
    q, r = Tensor(a).qr()
    tq, tr = torch.linalg.qr(torch.tensor(a))
    np.testing.assert_allclose(r.numpy(), tr.numpy(), **F32)
    np.testing.assert_allclose(q.numpy(), tq.numpy(), **F32)
    # ints are factored as floats; float64 keeps its precision
    ai = rng.integers(-9, 9, (3, 2)).astype(np.int32)
    q, r = Tensor(ai).qr()
    assert dtypes.is_float(q.dtype)
    np.testing.assert_allclose(q.numpy() @ r.numpy(), ai, **F32)
    a64 = rng.standard_normal((4, 3))
    q, r = Tensor(a64).qr()
    assert q.dtype == dtypes.float64
    np.testing.assert_allclose(q.numpy() @ r.numpy(), a64, rtol=1e-12, atol=1e-12)
    q, r = Tensor(np.zeros((0, 3), np.float32)).qr()
    assert q.shape == (0, 0) and r.shape == (0, 3)
    with pytest.raises(ShapeError, match="qr"):
        Tensor([1.0, 2.0]).qr()


# ---------------------------------------------------------------- svd


def check_svd(a: np.ndarray, full_matrices: bool, tol: dict[str, float] = F32) -> None:
    u, s, vh = Tensor(a).svd(full_matrices)
    tu, ts, tvh = torch.linalg.svd(torch.tensor(a), full_matrices=full_matrices)
    assert (u.shape, s.shape, vh.shape) == (tuple(tu.shape), tuple(ts.shape), tuple(tvh.shape))
    u.realize(s, vh)
    un, sn, vn = u.numpy(), s.numpy(), vh.numpy()
    k = min(a.shape[-2:])
    np.testing.assert_allclose(sn, ts.numpy(), **tol)
    assert (np.diff(sn, axis=-1) <= 0).all(), "singular values must be sorted descending"
    np.testing.assert_allclose((un[..., :k] * sn[..., None, :]) @ vn[..., :k, :], a, **tol)
    np.testing.assert_allclose(mT(un) @ un, eye_like(un, un.shape[-1]), **tol)
    np.testing.assert_allclose(vn @ mT(vn), eye_like(vn, vn.shape[-2]), **tol)
    # random matrices have distinct singular values: each vector equals torch's up to sign
    dots = np.abs((mT(un[..., :k]) @ tu.numpy()[..., :k]).diagonal(axis1=-2, axis2=-1))
    np.testing.assert_allclose(dots, 1.0, **tol)


@pytest.mark.parametrize("full_matrices", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_svd_matches_torch(rng, shape, full_matrices):
    check_svd(randf(rng, *shape), full_matrices)


def test_svd_float64(rng):
    check_svd(rng.standard_normal((4, 3)), False, {"rtol": 1e-10, "atol": 1e-12})


@pytest.mark.parametrize("shape,rank", [((3, 3), 1), ((3, 3), 1), ((4, 3), 2), ((3, 4), 1)])
def test_svd_rank_deficient(rng, shape, rank):
    # singular values at rounding level (float32 noise, even subnormal squares): U must still be orthonormal
    a = (randf(rng, shape[0], rank) @ randf(rng, rank, shape[1])).astype(np.float32)
    u, s, vh = Tensor(a).svd(False)
    un, sn, vn = u.numpy(), s.numpy(), vh.numpy()
    scale = max(1.0, float(sn[0]))
    np.testing.assert_allclose(sn, torch.linalg.svdvals(torch.tensor(a)).numpy(), atol=1e-5 * scale)
    np.testing.assert_allclose((un * sn) @ vn, a, atol=1e-5 * scale)
    np.testing.assert_allclose(un.T @ un, np.eye(un.shape[1]), atol=1e-5)
    np.testing.assert_allclose(vn @ vn.T, np.eye(vn.shape[0]), atol=1e-5)


def test_svd_zero_matrix():
    # exactly zero: singular values 0, and the vectors are still completed to orthonormal bases
    for shape, full in (((3, 2), True), ((2, 2), False)):
        u, s, vh = Tensor(np.zeros(shape, np.float32)).svd(full)
        assert s.tolist() == [0.0, 0.0]
        np.testing.assert_allclose(u.numpy().T @ u.numpy(), np.eye(u.shape[1]), atol=1e-6)
        np.testing.assert_allclose(vh.numpy() @ vh.numpy().T, np.eye(2), atol=1e-6)


def test_svd_empty_and_errors():
    u, s, vh = Tensor(np.zeros((3, 0), np.float32)).svd()
    assert (u.shape, s.shape, vh.shape) == ((3, 3), (0,), (0, 0))
    u, s, vh = Tensor(np.zeros((0, 2), np.float32)).svd(False)
    assert (u.shape, s.shape, vh.shape) == ((0, 0), (0,), (0, 2))
    with pytest.raises(ShapeError, match="svd"):
        Tensor(3.0).svd()
