"""Plain-NumPy reference versions of the compiled kernels, for the tests only.

Each function is written from the mathematics in the kernels' docstrings, not
from their code: one rating at a time, in float64, with explicit loops, so that
it is easy to check by eye. They only ever run on a few hundred ratings.

Unlike the kernels, which update their arguments in place, these functions
never modify their inputs and return fresh float64 arrays.
"""

import numpy as np
import scipy.sparse as sp


def _weights_or_ones(weights, n):
    """The kernels' convention: an empty weight array means every weight is 1."""
    if weights is None or len(weights) == 0:
        return np.ones(n)
    return np.asarray(weights, dtype=np.float64)


def _shrink(x, t):
    """Soft thresholding: ``sign(x) * max(|x| - t, 0)``."""
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


def sgd_pass(
    users,
    items,
    ratings,
    weights,
    order,
    user_factors,
    item_factors,
    user_bias,
    item_bias,
    learning_rate,
    alpha,
    loss,
    fit_biases,
    l1=0.0,
):
    """Sequential SGD over the ratings ``order`` lists, one update per visit.

    For the rating ``r`` of user ``u`` and item ``i`` with weight ``s``, the
    error is ``e = r - b_u - b_i - w_u . h_i``. With step ``lr``, every parameter
    ``theta`` of the rating (``b_u, b_i, w_u, h_i``) moves by

        lr * s * (g * d(prediction)/d(theta) - alpha * theta)

    computed from the values before the update, where ``g = e`` for
    ``loss="squared_error"`` (a gradient step on ``s * (e**2 + alpha * |theta|**2)
    / 2``) and ``g = sign(e)``, with ``sign(0) = 0``, for ``loss="absolute_error"``
    (a subgradient step on ``s * (|e| + alpha * |theta|**2 / 2)``). The biases only
    move when ``fit_biases``; otherwise they stay as given but still enter ``e``.

    ``learning_rate`` is a number, or one step size per entry of ``order``.

    With ``l1 > 0``, each update is followed by the proximal step of
    ``s * l1 * |theta|_1 / 2``: every parameter of the rating that moved is
    soft-thresholded by ``lr * s * l1 / 2`` (set to 0 within it, moved towards
    0 by it otherwise).

    Returns ``(user_factors, item_factors, user_bias, item_bias, total)`` where
    ``total`` is the weighted sum of ``e**2`` (squared) or ``|e|`` (absolute),
    each measured just before its rating's update.
    """
    if loss not in ("squared_error", "absolute_error"):
        raise ValueError(f"unknown loss {loss!r}")
    W = np.array(user_factors, dtype=np.float64)
    H = np.array(item_factors, dtype=np.float64)
    bu = np.array(user_bias, dtype=np.float64)
    bi = np.array(item_bias, dtype=np.float64)
    s_all = _weights_or_ones(weights, len(ratings))
    steps = np.broadcast_to(np.asarray(learning_rate, dtype=np.float64), len(order))
    n_components = W.shape[1]

    total = 0.0
    for visit, idx in enumerate(order):
        u, i, s, lr = users[idx], items[idx], s_all[idx], steps[visit]
        prediction = bu[u] + bi[i]
        for k in range(n_components):
            prediction += W[u, k] * H[i, k]
        e = float(ratings[idx]) - prediction

        if loss == "squared_error":
            total += s * e * e
            g = e
        else:
            total += s * abs(e)
            g = 1.0 if e > 0 else (-1.0 if e < 0 else 0.0)

        if fit_biases:
            bu[u] = bu[u] + lr * s * (g - alpha * bu[u])
            bi[i] = bi[i] + lr * s * (g - alpha * bi[i])
        w_old = W[u].copy()
        h_old = H[i].copy()
        for k in range(n_components):
            W[u, k] = w_old[k] + lr * s * (g * h_old[k] - alpha * w_old[k])
            H[i, k] = h_old[k] + lr * s * (g * w_old[k] - alpha * h_old[k])
        if l1 > 0:
            t = lr * s * l1 / 2
            if fit_biases:
                bu[u], bi[i] = _shrink(bu[u], t), _shrink(bi[i], t)
            W[u], H[i] = _shrink(W[u], t), _shrink(H[i], t)
    return W, H, bu, bi, total


def _half_sweep_sse(rows, cols, ratings, s_all, X, b, Y, c, fit_biases):
    """Weighted SSE ``s_j * (t_j - c_j - b - x . y_j)**2`` of new rows ``X, b``.

    Without ``fit_biases`` the row bias counts as 0.
    """
    sse = 0.0
    for p in range(len(ratings)):
        r, j = rows[p], cols[p]
        own_bias = b[r] if fit_biases else 0.0
        e = float(ratings[p]) - c[j] - own_bias - X[r] @ Y[j]
        sse += s_all[p] * e * e
    return sse


def als_half_sweep(
    rows,
    cols,
    ratings,
    weights,
    n_rows,
    row_bias,
    col_factors,
    col_bias,
    alpha,
    fit_biases,
):
    """Solve every row's factors (and bias) exactly, the columns held fixed.

    The ratings are given as coordinate lists ``(rows, cols, ratings)``; a
    repeated ``(row, col)`` pair is simply two ratings. Row ``r`` minimises

        sum_j s_j * ((t_j - c_j - b - x . y_j)**2 + alpha * (|x|**2 + b**2))

    over its factors ``x`` and, when ``fit_biases``, its bias ``b``. Without
    ``fit_biases`` the row bias is taken as 0 for the fit and the loss, and
    the returned row bias is the given one, unchanged. Setting the gradient to
    zero gives the normal equations

        (sum_j s_j z_j z_j^T + alpha * S * I) [x; b] = sum_j s_j (t_j - c_j) z_j

    with ``z_j = [y_j; 1]`` (``z_j = y_j`` without biases) and ``S = sum_j s_j``.
    A row whose ratings have zero total weight (or that has none) gets zeros.

    Returns ``(row_factors, row_bias, sse)`` where ``sse`` is the weighted sum of
    squared errors ``s_j * (t_j - c_j - b - x . y_j)**2`` of the new rows.
    """
    Y = np.asarray(col_factors, dtype=np.float64)
    c = np.asarray(col_bias, dtype=np.float64)
    s_all = _weights_or_ones(weights, len(ratings))
    n_components = Y.shape[1]
    dim = n_components + (1 if fit_biases else 0)

    X = np.zeros((n_rows, n_components))
    b = np.array(row_bias, dtype=np.float64)
    for r in range(n_rows):
        mine = [p for p in range(len(ratings)) if rows[p] == r]
        total_weight = sum(s_all[p] for p in mine)
        if total_weight <= 0:
            X[r] = 0.0
            if fit_biases:
                b[r] = 0.0
            continue
        lhs = alpha * total_weight * np.eye(dim)
        rhs = np.zeros(dim)
        for p in mine:
            z = np.append(Y[cols[p]], 1.0) if fit_biases else Y[cols[p]]
            lhs += s_all[p] * np.outer(z, z)
            rhs += s_all[p] * (float(ratings[p]) - c[cols[p]]) * z
        solution = np.linalg.solve(lhs, rhs)
        X[r] = solution[:n_components]
        if fit_biases:
            b[r] = solution[n_components]

    return X, b, _half_sweep_sse(rows, cols, ratings, s_all, X, b, Y, c, fit_biases)


def conjugate_gradient(lhs, rhs, x, steps):
    """``steps`` iterations of textbook conjugate gradient on ``lhs x = rhs``.

    Starts from ``x``. Stops early only when an iteration cannot proceed: the
    residual is exactly zero (solved) or the direction has no positive
    curvature (the step length would divide by zero).
    """
    x = np.array(x, dtype=np.float64)
    residual = rhs - lhs @ x
    direction = residual.copy()
    for _ in range(steps):
        rs_old = residual @ residual
        if rs_old <= 0:
            break
        curvature = direction @ lhs @ direction
        if curvature <= 0:
            break
        step = rs_old / curvature
        x = x + step * direction
        residual = residual - step * (lhs @ direction)
        direction = residual + (residual @ residual) / rs_old * direction
    return x


def als_cg_half_sweep(
    rows,
    cols,
    ratings,
    weights,
    row_factors,
    row_bias,
    col_factors,
    col_bias,
    alpha,
    fit_biases,
    steps,
):
    """``steps`` conjugate-gradient iterations on each row's ALS system.

    The system is the one :func:`als_half_sweep` solves exactly, written out
    densely; each row starts from its given factors (and bias, with
    ``fit_biases``), see :func:`conjugate_gradient`. A row of zero total
    weight gets zeros. Returns ``(row_factors, row_bias, sse)`` as
    :func:`als_half_sweep` does.
    """
    Y = np.asarray(col_factors, dtype=np.float64)
    c = np.asarray(col_bias, dtype=np.float64)
    s_all = _weights_or_ones(weights, len(ratings))
    n_rows, n_components = np.shape(row_factors)
    dim = n_components + (1 if fit_biases else 0)

    X = np.array(row_factors, dtype=np.float64)
    b = np.array(row_bias, dtype=np.float64)
    for r in range(n_rows):
        mine = [p for p in range(len(ratings)) if rows[p] == r]
        total_weight = sum(s_all[p] for p in mine)
        if total_weight <= 0:
            X[r] = 0.0
            if fit_biases:
                b[r] = 0.0
            continue
        lhs = alpha * total_weight * np.eye(dim)
        rhs = np.zeros(dim)
        for p in mine:
            z = np.append(Y[cols[p]], 1.0) if fit_biases else Y[cols[p]]
            lhs += s_all[p] * np.outer(z, z)
            rhs += s_all[p] * (float(ratings[p]) - c[cols[p]]) * z
        start = np.append(X[r], b[r]) if fit_biases else X[r]
        solution = conjugate_gradient(lhs, rhs, start, steps)
        X[r] = solution[:n_components]
        if fit_biases:
            b[r] = solution[n_components]

    return X, b, _half_sweep_sse(rows, cols, ratings, s_all, X, b, Y, c, fit_biases)


def als_row_gradient(
    rows,
    cols,
    ratings,
    weights,
    row_factors,
    row_bias,
    col_factors,
    col_bias,
    alpha,
    fit_biases,
):
    """Gradient of each row's ALS objective (see ``als_half_sweep``).

    Returns an array of shape ``(n_rows, n_components + fit_biases)``: the
    derivative with respect to ``x`` and, when ``fit_biases``, to ``b``:

        d/dx = -2 sum_j s_j e_j y_j + 2 alpha S x
        d/db = -2 sum_j s_j e_j + 2 alpha S b
    """
    X = np.asarray(row_factors, dtype=np.float64)
    b = np.asarray(row_bias, dtype=np.float64)
    Y = np.asarray(col_factors, dtype=np.float64)
    c = np.asarray(col_bias, dtype=np.float64)
    s_all = _weights_or_ones(weights, len(ratings))
    n_rows, n_components = X.shape

    grad = np.zeros((n_rows, n_components + (1 if fit_biases else 0)))
    total_weight = np.zeros(n_rows)
    for p in range(len(ratings)):
        r, j, s = rows[p], cols[p], s_all[p]
        own_bias = b[r] if fit_biases else 0.0
        e = float(ratings[p]) - c[j] - own_bias - X[r] @ Y[j]
        grad[r, :n_components] -= 2 * s * e * Y[j]
        if fit_biases:
            grad[r, n_components] -= 2 * s * e
        total_weight[r] += s
    for r in range(n_rows):
        grad[r, :n_components] += 2 * alpha * total_weight[r] * X[r]
        if fit_biases:
            grad[r, n_components] += 2 * alpha * total_weight[r] * b[r]
    return grad


def weighted_sse(
    users, items, ratings, weights, user_factors, item_factors, user_bias, item_bias
):
    """Weighted sum of squared errors of the whole model on the ratings."""
    s_all = _weights_or_ones(weights, len(ratings))
    total = 0.0
    for p in range(len(ratings)):
        u, i = users[p], items[p]
        prediction = (
            float(user_bias[u])
            + float(item_bias[i])
            + np.asarray(user_factors[u], dtype=np.float64)
            @ np.asarray(item_factors[i], dtype=np.float64)
        )
        total += s_all[p] * (float(ratings[p]) - prediction) ** 2
    return total


def predict_pairs(
    users, items, user_factors, item_factors, user_bias, item_bias, intercept
):
    """``intercept + b_u + b_i + w_u . h_i``; an index of -1 means unknown.

    An unknown user contributes neither its bias nor the dot product, and so
    does an unknown item: the prediction falls back to the intercept plus the
    bias of whichever of the two is known.
    """
    out = np.empty(len(users))
    for t, (u, i) in enumerate(zip(users, items, strict=True)):
        value = float(intercept)
        if u >= 0:
            value += float(user_bias[u])
        if i >= 0:
            value += float(item_bias[i])
        if u >= 0 and i >= 0:
            for k in range(user_factors.shape[1]):
                value += float(user_factors[u, k]) * float(item_factors[i, k])
        out[t] = value
    return out


def _implicit_system(r, rows, cols, confidence, Y, reg):
    """Dense normal equations of row ``r`` for implicit feedback, from every cell.

    Cell ``(r, j)`` has preference 1 and confidence ``c`` if it is listed (the
    listed pairs are distinct), and preference 0 and confidence 1 otherwise.
    Minimising
    ``sum_j c_j (p_j - x . y_j)**2 + reg |x|**2`` over ``x`` gives

        (sum_j c_j y_j y_j^T + reg I) x = sum_j c_j p_j y_j
    """
    n_cols, n_components = Y.shape
    c = np.ones(n_cols)
    p = np.zeros(n_cols)
    for q in range(len(rows)):
        if rows[q] == r:
            c[cols[q]] = float(confidence[q])
            p[cols[q]] = 1.0
    lhs = reg * np.eye(n_components)
    rhs = np.zeros(n_components)
    for j in range(n_cols):
        lhs += c[j] * np.outer(Y[j], Y[j])
        rhs += c[j] * p[j] * Y[j]
    return lhs, rhs


def implicit_half_sweep(rows, cols, confidence, row_factors, col_factors, reg, steps):
    """Solve every row for implicit feedback, the columns held fixed.

    The observed cells are given as coordinate lists ``(rows, cols,
    confidence)``; the system of each row is the one of ``_implicit_system``.
    ``steps=0`` solves it exactly; otherwise ``steps`` iterations of
    :func:`conjugate_gradient` start from the row's factors in
    ``row_factors``. Returns the new row factors.
    """
    Y = np.asarray(col_factors, dtype=np.float64)
    X = np.array(row_factors, dtype=np.float64)
    for r in range(X.shape[0]):
        lhs, rhs = _implicit_system(r, rows, cols, confidence, Y, reg)
        if steps == 0:
            X[r] = np.linalg.solve(lhs, rhs)
        else:
            X[r] = conjugate_gradient(lhs, rhs, X[r], steps)
    return X


def implicit_loss(rows, cols, confidence, user_factors, item_factors, reg):
    """``sum c (p - x_u . y_i)**2`` over every user x item cell plus the penalty.

    The listed ``(rows, cols)`` pairs are distinct, as in ``_implicit_system``.
    """
    X = np.asarray(user_factors, dtype=np.float64)
    Y = np.asarray(item_factors, dtype=np.float64)
    c = np.ones((X.shape[0], Y.shape[0]))
    p = np.zeros_like(c)
    for q in range(len(rows)):
        c[rows[q], cols[q]] = float(confidence[q])
        p[rows[q], cols[q]] = 1.0
    total = 0.0
    for u in range(X.shape[0]):
        for i in range(Y.shape[0]):
            total += c[u, i] * (p[u, i] - X[u] @ Y[i]) ** 2
    return total + reg * (np.sum(X**2) + np.sum(Y**2))


def gibbs_half_sweep(
    rows,
    cols,
    ratings,
    weights,
    n_rows,
    row_bias,
    col_factors,
    col_bias,
    prior_precision,
    prior_shift,
    noise_precision,
    noise,
    fit_biases,
):
    """Draw every row from its Gaussian conditional posterior, given the noise.

    Row ``r`` (``[x, b]`` with biases) has the prior ``N(m, Lambda^-1)`` and
    ratings ``t_j ~ N(c_j + b + x . y_j, 1 / (beta s_j))``. Its conditional
    posterior is ``N(A^-1 rhs, A^-1)`` with

        A = Lambda + beta * sum_j s_j z_j z_j^T
        rhs = beta * sum_j s_j (t_j - c_j) z_j + Lambda m

    (``z_j = [y_j; 1]``, or ``y_j`` without biases; ``prior_shift`` is
    ``Lambda m``). With the upper triangular Cholesky factor ``A = U^T U``, the
    draw is ``A^-1 rhs + U^-1 noise[r]``, whose covariance is
    ``U^-1 U^-T = A^-1``. A row without ratings is drawn from the prior.

    Returns ``(row_factors, row_bias, sse)`` as :func:`als_half_sweep` does.
    """
    Y = np.asarray(col_factors, dtype=np.float64)
    c = np.asarray(col_bias, dtype=np.float64)
    s_all = _weights_or_ones(weights, len(ratings))
    n_components = Y.shape[1]
    Lam = np.asarray(prior_precision, dtype=np.float64)
    shift = np.asarray(prior_shift, dtype=np.float64)

    X = np.zeros((n_rows, n_components))
    b = np.array(row_bias, dtype=np.float64)
    for r in range(n_rows):
        lhs = Lam.copy()
        rhs = shift.copy()
        for p in range(len(ratings)):
            if rows[p] != r:
                continue
            z = np.append(Y[cols[p]], 1.0) if fit_biases else Y[cols[p]]
            lhs += noise_precision * s_all[p] * np.outer(z, z)
            rhs += noise_precision * s_all[p] * (float(ratings[p]) - c[cols[p]]) * z
        upper = np.linalg.cholesky(lhs).T
        draw = np.linalg.solve(lhs, rhs) + np.linalg.solve(
            upper, np.asarray(noise[r], dtype=np.float64)
        )
        X[r] = draw[:n_components]
        if fit_biases:
            b[r] = draw[n_components]

    return X, b, _half_sweep_sse(rows, cols, ratings, s_all, X, b, Y, c, fit_biases)


def materialize(blocks):
    """A factorization machine's design X (ratings x all features): the rows of
    the relation blocks that each rating points to, side by side (CSR)."""
    return sp.hstack([b.matrix()[b.rows] for b in blocks]).tocsr()


def fm_predict(X, w0, w, V):
    """A factorization machine's prediction of the rows of X (Rendle, 2010)."""
    q = X @ V
    squares = X.multiply(X) @ (V * V)
    return w0 + X @ w + 0.5 * (np.sum(q * q, axis=1) - np.sum(squares, axis=1))
