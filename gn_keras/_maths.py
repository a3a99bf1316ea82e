"""The group-norm maths, written once for the TensorFlow and JAX kernels.

Arrays here are the kernel's own (tf.Tensor or jax.Array) in the grouped view
and the statistics dtype (float32, or float64). They meet only Python's
arithmetic operators and two objects the kernel passes in:

* `sums`, its layout: `channel_sums(t)` sums a grouped-view array over the
  spatial axes (per sample and channel), `group_sums(per_channel)` those
  over each group's channels, and `stat_sums(t)` over each (sample, group)
  at once, all keeping dims. How is the kernel's business (`ones @ x`
  products on CPU for TensorFlow, plain reductions over `[N, S, C]` for JAX).
* `fn`, its elementwise functions: `square`, `maximum`, `rsqrt`, `where`,
  `zeros_like`, `ones_like`, `divide_no_nan`.

No backend is imported here.
"""


def forward(xf, gamma, beta, n, epsilon, sums, fn):
  """The normalized output and the statistics kept for the gradient.

  Args:
    xf: The input, grouped and in the statistics dtype.
    gamma: Per-channel scale, broadcastable to `xf`.
    beta: Per-channel offset, broadcastable to `xf`.
    n: Elements per (sample, group), in the statistics dtype.
    epsilon: Added to the variance.
    sums: The kernel's layout (see the module docstring).
    fn: The kernel's elementwise functions.

  Returns:
    (y, mean_hi, mean_lo, rstd): y in the grouped view and statistics dtype;
    the statistics one value per (sample, group), keeping dims.
  """
  # The mean is kept as two floats, mean = mean_hi + mean_lo: a first pass
  # gives mean_hi; x - mean_hi is then exact (Sterbenz) and small, so the
  # second pass gets both an accurate correction mean_lo and a variance free
  # of the cancellation in E[x^2] - E[x]^2 (a shifted two-pass variance).
  mean_hi = sums.group_sums(sums.channel_sums(xf)) / n
  centred = xf - mean_hi
  mean_lo = sums.group_sums(sums.channel_sums(centred)) / n
  var = sums.group_sums(sums.channel_sums(fn.square(centred))) / n
  var = fn.maximum(var - fn.square(mean_lo), 0.0)
  rstd = fn.rsqrt(var + epsilon)
  # gamma and rstd fold into one per-(sample, channel) scale. x is centred
  # by mean_hi before scaling: x * scale + (beta - mean * scale) would round
  # away |mean| / std times more than float32 eps. mean_lo is small, so it
  # folds into the shift at no cost in precision.
  scale = gamma * rstd
  shift = beta - mean_lo * scale
  return centred * scale + shift, mean_hi, mean_lo, rstd


def backward(dyf, xf, gamma, mean_hi, mean_lo, rstd, n, sums):
  """Closed-form gradient of group norm.

  With xhat = (x - mean) * rstd and g = dy * gamma, over each (sample, group):
    dx     = rstd * (g - mean(g) - xhat * mean(g * xhat))
    dgamma = sum over batch and spatial of dy * xhat
    dbeta  = sum over batch and spatial of dy
  Both group means come from per-(sample, channel) sums of dy and
  dy * (x - mean), so the large tensors are read once for all three results.

  Args:
    dyf: The output's gradient, grouped and in the statistics dtype.
    xf: The input, likewise.
    gamma: Per-channel scale, broadcastable to `xf`.
    mean_hi: From `forward`.
    mean_lo: From `forward`.
    rstd: From `forward`.
    n: Elements per (sample, group).
    sums: The kernel's layout.

  Returns:
    (dx, dgamma_per_sample, dbeta_per_sample): dx in the grouped view; the
    parameter gradients per (sample, channel), for the kernel to sum over the
    batch.
  """
  # x - mean = centred - mean_lo; mean_lo (small) is applied to the sums and
  # the constant term rather than in another pass over x.
  centred = xf - mean_hi
  sum_dy = sums.channel_sums(dyf)
  sum_dy_xc = sums.channel_sums(dyf * centred) - mean_lo * sum_dy
  mean_g = sums.group_sums(sum_dy * gamma) / n
  # mean(g * xhat), with xhat's rstd factored out of the sum.
  mean_g_xhat = sums.group_sums(sum_dy_xc * gamma) * rstd / n
  # dx = dy * a + (x - mean) * b + c, per (sample, channel) a and per group
  # b, c; with x - mean = centred - mean_lo.
  a = gamma * rstd
  b = -rstd * rstd * mean_g_xhat
  c = -rstd * mean_g - mean_lo * b
  return dyf * a + (centred * b + c), sum_dy_xc * rstd, sum_dy


def masked_moments(xf, w, sums, fn):
  """Weighted mean and variance over each (sample, group); NaN-safe.

  Positions of weight 0 are selected away (not multiplied away) before any
  sum, so a NaN or inf there reaches no statistic. Two passes: the variance
  is the weighted mean of squared deviations from the weighted mean. A group
  with nothing kept gets mean 0 and variance 0.

  Args:
    xf: The input, grouped and in the statistics dtype.
    w: Weights (frequency weights; 0 = masked), broadcastable to `xf`.
    sums: The kernel's layout; `stat_sums(t)` sums each (sample, group).
    fn: The kernel's elementwise functions (`where`, `zeros_like`,
      `ones_like`, `divide_no_nan`, `square`).

  Returns:
    (mean, var, total, keep): per (sample, group), keeping dims, with total
    the sum of the weights and keep the mask `w > 0`.
  """
  keep = w > 0
  x_kept = fn.where(keep, xf, fn.zeros_like(xf))
  w_full = w * fn.ones_like(xf)
  total = sums.stat_sums(w_full)
  mean = fn.divide_no_nan(sums.stat_sums(w_full * x_kept), total)
  var = fn.divide_no_nan(sums.stat_sums(w_full * fn.square(x_kept - mean)),
                         total)
  return mean, var, total, keep


def masked_forward(xf, w, gamma, beta, epsilon, sums, fn):
  """Group norm with statistics over the positions `w` keeps.

  Every position, masked ones included, is normalized with its group's
  statistics.

  Returns:
    (y, mean, rstd, total, keep), y in the grouped view.
  """
  mean, var, total, keep = masked_moments(xf, w, sums, fn)
  rstd = fn.rsqrt(var + epsilon)
  return (xf - mean) * (gamma * rstd) + beta, mean, rstd, total, keep


def masked_backward(dyf, xf, gamma, w, mean, rstd, total, keep, sums, fn):
  """Closed-form gradient of the masked group norm.

  With weights w, W = sum(w) per group, xhat = (x - mean) * rstd over every
  position and g = dy * gamma:
    dx     = rstd * (g - w * (sum(g) + xhat * sum(g * xhat)) / W)
    dgamma = sum over batch and spatial of dy * xhat,  dbeta = sum of dy.
  Products with xhat are selected to 0 where dy is 0, so a NaN or inf at a
  masked position whose output the loss ignores reaches no gradient.

  Returns:
    (dx, dy_xhat, dy) in the grouped view: the kernel sums the last two over
    batch and spatial positions for dgamma and dbeta.
  """
  xhat = (xf - mean) * rstd
  dy_xhat = fn.where(dyf == 0, fn.zeros_like(dyf), dyf * xhat)
  sum_g = sums.stat_sums(dyf * gamma)
  sum_g_xhat = sums.stat_sums(dy_xhat * gamma)
  correction = fn.divide_no_nan(w, total) * (sum_g + xhat * sum_g_xhat)
  correction = fn.where(keep, correction, fn.zeros_like(correction))
  return rstd * (dyf * gamma - correction), dy_xhat, dyf
