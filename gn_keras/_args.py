"""Argument and shape checks every kernel and layer shares; no backend import.

The TensorFlow kernel (`gn_keras.ops`), the JAX kernel (`gn_keras.jax_ops`) and
the layers all validate `groups`, `group_size` and `axis` here, so the rules
and their messages are written once.
"""

from typing import Optional


def check_group_args(groups: Optional[int], group_size: Optional[int]):
  """Raises ValueError unless exactly one of `groups`, `group_size` is valid."""
  if groups is not None and group_size is not None:
    raise ValueError(
        'Pass exactly one of `groups` and `group_size`; received '
        f'groups={groups} and group_size={group_size}. Set groups=None to use '
        'group_size.')
  if groups is None and group_size is None:
    raise ValueError('Pass one of `groups` and `group_size`; received '
                     'groups=None and group_size=None.')
  if group_size is not None and (not isinstance(group_size, int) or
                                 group_size < 1):
    raise ValueError('`group_size` must be a positive integer; received '
                     f'group_size={group_size!r}.')
  if groups is not None and (not isinstance(groups, int) or groups == 0 or
                             groups < -1):
    raise ValueError('`groups` must be a positive integer or -1 (one group '
                     f'per channel); received groups={groups!r}.')


def resolve_groups(channels: int,
                   groups: Optional[int] = 32,
                   group_size: Optional[int] = None) -> int:
  """Returns the number of groups implied by `groups` or `group_size`.

  Args:
    channels: Number of channels (a static int).
    groups: Number of groups, or -1 for one group per channel (instance norm).
      Must be None when `group_size` is given.
    group_size: Channels per group, the alternative to `groups`.

  Returns:
    The number of groups, a positive divisor of `channels`.

  Raises:
    ValueError: if both or neither of `groups` and `group_size` are given, or
      the group count does not fit `channels`.
  """
  check_group_args(groups, group_size)
  if group_size is not None:
    if channels % group_size:
      raise ValueError(
          f'`group_size`={group_size} must divide the number of channels; '
          f'received {channels} channels.')
    return channels // group_size
  if groups == -1:
    return channels
  if groups > channels:
    raise ValueError(
        f'`groups`={groups} cannot be more than the number of channels; '
        f'received {channels} channels.')
  if channels % groups:
    raise ValueError(
        f'The number of channels ({channels}) must be a multiple of '
        f'`groups`; received groups={groups}.')
  return groups


def normalize_axis(axis: int, rank: Optional[int]) -> int:
  """Returns `axis` as a positive index into a tensor of `rank`, or raises."""
  if rank is None:
    raise ValueError('Group normalization needs inputs of known rank; '
                     'received an input of unknown rank.')
  if not 2 <= rank <= 5:
    raise ValueError('Group normalization needs inputs of rank 2 to 5 '
                     f'(batch, ..., channels); received rank {rank}.')
  if not isinstance(axis, int) or not -rank <= axis < rank:
    raise ValueError(f'`axis` must be in [{-rank}, {rank}) for inputs of rank '
                     f'{rank}; received axis={axis!r}.')
  axis %= rank
  if axis == 0:
    raise ValueError('`axis` is the channel axis and cannot be 0, the batch '
                     f'axis; received axis=0 for inputs of rank {rank}.')
  return axis


def check_mask_shape(mask_shape, x_shape, axis: int) -> bool:
  """Checks a mask's shape against the input's (dims may be None).

  Args:
    mask_shape: The mask's shape, as a list or tuple.
    x_shape: The input's shape.
    axis: The input's channel axis, non-negative.

  Returns:
    True if the mask lacks the channel axis (Keras' propagated masks do), so
    that it must be expanded there before it broadcasts against the input.

  Raises:
    ValueError: if the mask has neither the input's shape (each dim equal or
      1) nor that shape without the channel axis.
  """
  expected = (f'`mask` must have the input\'s shape {tuple(x_shape)} or that '
              f'shape without the channel axis {axis}; received shape '
              f'{tuple(mask_shape)}')
  rank = len(x_shape)
  lacks_channels = len(mask_shape) == rank - 1
  if not lacks_channels and len(mask_shape) != rank:
    raise ValueError(f'{expected}.')
  full = (list(mask_shape[:axis]) + [1] + list(mask_shape[axis:])
          if lacks_channels else list(mask_shape))
  for i, (m, d) in enumerate(zip(full, x_shape)):
    if m is not None and d is not None and m not in (1, d):
      raise ValueError(f'{expected} (dimension {i} differs).')
  return lacks_channels
