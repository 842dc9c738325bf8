"""Tensor methods: linear algebra: qr, svd.

Both are written with tensor ops, batched over leading dims, and meant for small matrices: the Python loops run
over columns (QR) and Jacobi sweeps (SVD), each step a few fused kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinygrad.dtype import dtypes, least_upper_float
from tinygrad.errors import ShapeError

if TYPE_CHECKING:
    from tinygrad.tensor import Tensor

# one-sided Jacobi converges quadratically; a well-conditioned small matrix needs about 6 sweeps
MAX_SWEEPS = 30


def _eye_like(x: Tensor, n: int) -> Tensor:
    """An identity (n, n) with x's dtype and device, broadcast over x's batch dims."""
    from tinygrad.tensor import Tensor

    e = Tensor.eye(n, dtype=x.dtype, device=x.device)
    return e.reshape(*(1,) * (x.ndim - 2), n, n).expand(*x.shape[:-2], n, n)


def _round_robin(n: int) -> list[int]:
    """The column order for the next step of a parallel (tournament) Jacobi sweep over columns laid out as
    [top half | bottom half], pairing top[i] with bottom[i]. Keeping column 0 fixed and cycling the rest by one
    visits every pair exactly once in n-1 steps (Brent & Luk, 1985)."""
    h = n // 2
    ring = list(range(1, h)) + list(range(n - 1, h - 1, -1))  # top[1:] then the bottom half reversed
    ring = ring[-1:] + ring[:-1]
    top = [0] + ring[: h - 1]
    bottom = ring[h - 1 :][::-1]
    return top + bottom


class LinalgMixin:
    __slots__ = ()

    def qr(self: Tensor) -> tuple[Tensor, Tensor]:
        """Reduced QR decomposition of (..., m, n) by Householder reflections: Q (..., m, k) with orthonormal
        columns and upper-triangular R (..., k, n), k = min(m, n), self = Q @ R. Signs follow LAPACK (as torch):
        R[j, j] = -sign(x) * norm for each reflected column, and a column with nothing below the diagonal is left
        as it is.

        >>> from tinygrad import Tensor
        >>> q, r = Tensor([[3.0, 1.0], [4.0, 2.0]]).qr()
        >>> [[round(v, 4) for v in row] for row in r.tolist()]
        [[-5.0, -2.2], [0.0, 0.4]]
        >>> [[round(v, 4) for v in row] for row in q.tolist()]
        [[-0.6, -0.8], [-0.8, 0.6]]
        """
        from tinygrad.tensor import Tensor

        if self.ndim < 2:
            raise ShapeError(f"Tensor.qr: needs a matrix (..., m, n), got shape {self.shape}")
        m, n = self.shape[-2:]
        k = min(m, n)
        r = self.cast(least_upper_float(self.dtype))
        q = _eye_like(r, m)
        rows = Tensor.arange(m, device=self.device)
        for j in range(k):
            col = r[..., j]  # (..., m)
            below = (rows > j).where(col, 0.0)
            tail = (below * below).sum(-1, keepdim=True)
            xj = r[..., j : j + 1, j]  # (..., 1)
            norm = (tail + xj * xj).sqrt()
            alpha = (xj < 0).where(norm, -norm)  # -sign(x_j) * |x|, sign(0) = +1: no cancellation in x_j - alpha
            v = below + (rows == j).where(xj - alpha, 0.0)
            # reflect with H = I - tau v v^T; nothing below the diagonal means no reflection (tau = 0)
            tau = (tail == 0).where(0.0, 2.0 / (v * v).sum(-1, keepdim=True))
            tv = (tau * v).unsqueeze(-1)  # (..., m, 1)
            r = (r - tv * (v.unsqueeze(-1) * r).sum(-2, keepdim=True)).contiguous()
            q = (q - (q * v.unsqueeze(-2)).sum(-1, keepdim=True) * tv.transpose(-1, -2)).contiguous()
        upper = Tensor.arange(k, device=self.device).reshape(k, 1) <= Tensor.arange(n, device=self.device)
        return q[..., :, :k], upper.where(r[..., :k, :], 0.0)

    def svd(self: Tensor, full_matrices: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """Singular value decomposition of (..., m, n) by one-sided Jacobi rotations: U, S, Vh with
        self = U @ diag(S) @ Vh and S descending, as torch.linalg.svd. With full_matrices=False, U is (..., m, k)
        and Vh (..., k, n), k = min(m, n); otherwise U is (..., m, m) and Vh (..., n, n). Singular vectors are
        unique only up to sign (and rotation within repeated singular values). Runs sweeps until the columns are
        orthogonal to working precision, reading back one number per sweep.

        >>> from tinygrad import Tensor
        >>> u, s, vh = Tensor([[3.0, 0.0], [0.0, -4.0]]).svd()
        >>> [round(v, 4) for v in s.tolist()]
        [4.0, 3.0]
        >>> [[round(abs(v), 4) for v in row] for row in u.tolist()]
        [[0.0, 1.0], [1.0, 0.0]]
        """
        from tinygrad.tensor import Tensor

        if self.ndim < 2:
            raise ShapeError(f"Tensor.svd: needs a matrix (..., m, n), got shape {self.shape}")
        m, n = self.shape[-2:]
        if m < n:
            # A^T = U S Vh  =>  A = Vh^T S U^T
            u, s, vh = self.transpose(-2, -1).svd(full_matrices)
            return vh.transpose(-2, -1), s, u.transpose(-2, -1)
        a = self.cast(least_upper_float(self.dtype))
        batch = a.shape[:-2]
        if n == 0:
            u = _eye_like(a, m) if full_matrices else a
            return u, a.sum(-2), a[..., :0, :]
        # an even number of columns pairs them all up; the zero column added for odd n never rotates
        n2 = n + n % 2
        a = a.pad(((0, 0),) * len(batch) + ((0, 0), (0, n2 - n)))
        # rotate A's columns and V's columns together: one state matrix [A; V] of shape (..., m + n2, n2)
        w = a.cat(_eye_like(a, n2), dim=-2)
        h = n2 // 2
        order = _round_robin(n2)
        tol = 8 * 2.0 ** -(dtypes.finfo(a.dtype)[1] + 1)
        for _ in range(MAX_SWEEPS):
            for _step in range(n2 - 1):
                top, bot = w[..., :h], w[..., h:]
                at, ab = top[..., :m, :], bot[..., :m, :]
                # the three Gram entries of each column pair in one reduce kernel
                g = (at * at).unsqueeze(0).cat((ab * ab).unsqueeze(0), (at * ab).unsqueeze(0), dim=0).sum(-2)
                alpha, beta, gamma = g[0], g[1], g[2]
                skip = gamma == 0
                zeta = (beta - alpha) / skip.where(1.0, 2 * gamma)
                # the smaller root of t^2 + 2 zeta t - 1 = 0: the rotation by at most 45 degrees
                t = (zeta >= 0).where(1.0, -1.0) / (zeta.abs() + (1 + zeta * zeta).sqrt())
                t = skip.where(0.0, t)
                c = (1 + t * t).rsqrt()
                s = c * t
                c, s = c.unsqueeze(-2), s.unsqueeze(-2)
                top, bot = c * top - s * bot, s * top + c * bot
                w = top.cat(bot, dim=-1)
                w = w[..., order[0] : order[0] + 1].cat(*[w[..., i : i + 1] for i in order[1:]], dim=-1).contiguous()
            # converged when every pair of columns of A is orthogonal relative to their norms
            av = w[..., :m, :]
            gram = (av.unsqueeze(-1) * av.unsqueeze(-2)).sum(-3)
            d = (gram * _eye_like(gram, n2)).sum(-1)
            # sqrt before multiplying: the product of two tiny squared norms underflows to 0 in float32
            denom = d.sqrt().unsqueeze(-1) * d.sqrt().unsqueeze(-2)
            off = (denom == 0).where(0.0, gram.abs() / denom) * (1 - _eye_like(gram, n2))
            if off.max().item() <= tol:
                break
        av, v = w[..., :m, :], w[..., m:, :]
        # column norms scaled by the largest entry: squares of entries near 1e-19 are subnormal in float32
        big = av.abs().max(-2, keepdim=True)
        scaled = av / (big == 0).where(1.0, big)
        unit_len = (scaled * scaled).sum(-2, keepdim=True).sqrt()
        sv = (big * unit_len)[..., 0, :]  # (..., n2)
        # sort descending with a permutation matrix built from ranks (ties keep the column order)
        idx = Tensor.arange(n2, device=self.device)
        si, sj = sv.unsqueeze(-1), sv.unsqueeze(-2)  # value of column i (rows), of column j (cols)
        before = (sj > si) | ((sj == si) & (idx.reshape(1, n2) < idx.reshape(n2, 1)))
        rank = before.cast(dtypes.int32).sum(-1)  # (..., n2): where column i goes
        perm = rank.unsqueeze(-1) == idx  # (..., n2 i, n2 r)

        def permute_cols(x: Tensor) -> Tensor:
            return perm.unsqueeze(-3).where(x.unsqueeze(-1), 0.0).sum(-2)

        s_sorted = permute_cols(sv.unsqueeze(-2))[..., 0, :n]
        # a column whose norm is at rounding level of the largest is noise, not a direction: leave its U column
        # to the completion below (numpy's matrix_rank uses the same cutoff)
        eps = 2.0 ** -dtypes.finfo(a.dtype)[1]
        cutoff = sv.max(-1, keepdim=True) * (eps * max(m, n))
        noise = sv <= cutoff
        u = permute_cols((noise.unsqueeze(-2) | (unit_len == 0)).where(0.0, scaled / unit_len))[..., :n]
        vh = permute_cols(v)[..., :n, :n].transpose(-2, -1)
        # (the zero column added for odd n is sorted last and dropped: it must not trigger the completion)
        if (full_matrices and m > n) or bool((s_sorted <= cutoff).any().item()):
            # complete U to an orthonormal basis: QR of [U | 0] keeps U's leading nonzero columns (up to sign,
            # fixed below) and fills the zero ones, sorted last, with vectors orthogonal to them
            cols = m if full_matrices else n
            q, r = u.pad(((0, 0),) * len(batch) + ((0, 0), (0, cols - n))).qr()
            diag = (r[..., :cols, :cols] * _eye_like(q, cols)).sum(-1)
            u = q * (diag < 0).where(-1.0, 1.0).unsqueeze(-2)
        return u, s_sorted, vh
