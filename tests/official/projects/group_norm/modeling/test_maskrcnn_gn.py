"""The GN Mask R-CNN builder: Model Garden's model with the configured norms."""

import os

import pytest
import tensorflow as tf
import tf_keras

from official.core import exp_factory
from official.modeling import hyperparams
from official.projects.group_norm import registry_imports  # noqa: F401 (registers the experiments)
from official.projects.group_norm.configs import maskrcnn as cfgs
from official.projects.group_norm.modeling import heads_gn
from official.projects.group_norm.modeling import maskrcnn_gn
from official.projects.group_norm.modeling import norms
from official.vision.modeling import maskrcnn_model

BN_YAML = os.path.join(os.path.dirname(cfgs.__file__), 'experiments',
                       'maskrcnn_gn_shapes_bn.yaml')
SIZE = cfgs.SHAPES_IMAGE_SIZE


def _model_config(config_file=None):
  params = exp_factory.get_exp_config('maskrcnn_gn_shapes')
  if config_file:
    params = hyperparams.override_params_dict(params, config_file,
                                              is_strict=True)
  return params.task.model


def _build(model_config, l2=None, size=SIZE):
  return maskrcnn_gn.build_maskrcnn_gn(
      tf_keras.layers.InputSpec(shape=[None, size, size, 3]), model_config,
      l2)


@pytest.fixture(scope='module')
def gn_model():
  return _build(_model_config(), tf_keras.regularizers.l2(5e-5))


def test_builds_model_gardens_model_with_the_gn_heads(gn_model):
  assert isinstance(gn_model, maskrcnn_model.MaskRCNNModel)
  assert isinstance(gn_model.rpn_head, heads_gn.RPNHeadGN)
  assert all(isinstance(h, heads_gn.DetectionHeadGN)
             for h in gn_model.detection_head)
  assert isinstance(gn_model.mask_head, heads_gn.MaskHeadGN)


def test_inference_output_shapes(gn_model):
  config = _model_config()
  images = tf.random.stateless_normal([2, SIZE, SIZE, 3], seed=[0, 1])
  outputs = gn_model(images, image_shape=tf.constant([[SIZE, SIZE]] * 2),
                     training=False)
  detections = config.detection_generator.max_num_detections
  crop = config.mask_roi_aligner.crop_size * config.mask_head.upsample_factor
  assert outputs['detection_boxes'].shape == (2, detections, 4)
  assert outputs['detection_scores'].shape == (2, detections)
  assert outputs['detection_classes'].shape == (2, detections)
  assert outputs['num_detections'].shape == (2,)
  assert outputs['detection_masks'].shape == (2, detections, crop, crop)
  for level in range(config.min_level, config.max_level + 1):
    stride = 2**level
    assert outputs['rpn_scores'][str(level)].shape == (
        2, SIZE // stride, SIZE // stride, 3)


def test_gn_everywhere_but_the_rpn(gn_model):
  kinds = {part: set(norms.count_norm_layers(getattr(gn_model, part)))
           for part in ('backbone', 'decoder', 'rpn_head', 'detection_head',
                        'mask_head')}
  assert kinds == {'backbone': {'GroupNormalization'},
                   'decoder': {'GroupNormalization'},
                   'rpn_head': set(),
                   'detection_head': {'GroupNormalization'},
                   'mask_head': {'GroupNormalization'}}
  norms.check_model_norms(gn_model, _model_config())


def test_weight_decay_on_kernels_only(gn_model):
  kernels = [v for v in gn_model.trainable_variables if 'kernel' in v.name]
  assert len(gn_model.losses) == len(kernels)
  gammas = [v for v in gn_model.trainable_variables if 'gn_gamma' in v.name]
  assert gammas  # GN's gamma/beta exist and are not among the decayed.


def test_one_config_file_switches_every_norm_to_batch_norm():
  model = _build(_model_config(BN_YAML))
  for part in ('backbone', 'decoder', 'rpn_head', 'detection_head',
               'mask_head'):
    assert set(norms.count_norm_layers(getattr(model, part))) == {
        'BatchNormalization'}, part


def test_model_check_names_the_part_that_differs(gn_model):
  with pytest.raises(ValueError, match=r"The backbone built for norm "
                     r"'batch_norm' contains \{'GroupNormalization': 21\}; "
                     r"expected only \['BatchNormalization'\]"):
    norms.check_model_norms(gn_model, _model_config(BN_YAML))


@pytest.mark.parametrize('override, name', [
    ({'detection_head': {'num_fcs': 2}}, 'detection_head.num_fcs != 1'),
    ({'mask_head': {'use_separable_conv': True}},
     'mask_head.use_separable_conv'),
    ({'roi_sampler': {'cascade_iou_thresholds': [0.6]}},
     'roi_sampler.cascade_iou_thresholds'),
])
def test_unsupported_options_raise(override, name):
  config = _model_config()
  config.override(override, is_strict=True)
  with pytest.raises(ValueError, match=r'does not support \[.*' +
                     name.replace('.', r'\.')):
    _build(config)



def test_the_coco_recipe_builds_with_gn_everywhere_but_the_rpn():
  """The paper's R50-FPN GN model (at a small input, to build quickly)."""
  params = exp_factory.get_exp_config('maskrcnn_resnetfpn_gn_coco')
  model = _build(params.task.model, size=256)
  norms.check_model_norms(model, params.task.model)
  assert set(norms.count_norm_layers(model.backbone)) == {'GroupNormalization'}
  assert not norms.count_norm_layers(model.rpn_head)
  gn_layers = [layer for layer in model.decoder.submodules
               if type(layer).__name__ == 'GroupNormalization']
  assert gn_layers and all(layer.groups == 32 for layer in gn_layers)
