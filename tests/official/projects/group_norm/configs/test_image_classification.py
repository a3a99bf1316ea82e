"""The registered experiments carry the recipes they claim."""

import pytest

from official.core import exp_factory
from official.projects.group_norm.configs import image_classification as cfgs


def test_resnet50_gn_imagenet_is_the_papers_recipe():
  params = exp_factory.get_exp_config('resnet50_gn_imagenet')
  params.validate()
  backbone = params.task.model.backbone
  assert backbone.type == 'resnet_gn'
  assert (backbone.resnet_gn.model_id, backbone.resnet_gn.groups,
          backbone.resnet_gn.norm) == (50, 32, 'group_norm')
  assert backbone.resnet_gn.zero_init_last_gamma
  assert backbone.resnet_gn.norm_weight_decay  # Decay on gamma/beta too.
  assert params.task.losses.l2_weight_decay == 1e-4
  assert params.task.model.input_size == [224, 224, 3]
  batch = params.task.train_data.global_batch_size
  steps_per_epoch = cfgs.IMAGENET_TRAIN_EXAMPLES // batch
  assert params.trainer.train_steps == 100 * steps_per_epoch
  lr = params.trainer.optimizer_config.learning_rate.stepwise
  assert lr.boundaries == [e * steps_per_epoch for e in (30, 60, 90)]
  assert lr.values == pytest.approx([0.1 * batch / 256 * 0.1**i
                                     for i in range(4)])


def test_resnet_gn_digits_is_small_and_switches_norm_in_one_override():
  params = exp_factory.get_exp_config('resnet_gn_digits')
  params.validate()
  assert params.task.train_data.global_batch_size == 8
  assert params.task.make_digits_if_missing
  params.override({'task': {'model': {'backbone': {'resnet_gn': {
      'norm': 'batch_norm'}}}}}, is_strict=True)
  assert params.task.model.backbone.resnet_gn.norm == 'batch_norm'


def test_colour_digits_is_the_studys_converging_reference():
  params = exp_factory.get_exp_config('resnet_gn_colour_digits')
  params.validate()
  assert params.task.model.input_size == [64, 64, 3]  # Last stage 2x2.
  assert (params.task.make_digits_if_missing,
          params.task.digits_style) == (True, 'colour')
  assert params.task.train_data.global_batch_size == 64  # 32 x 2 replicas.
  steps_per_epoch = cfgs.DIGITS_TRAIN_EXAMPLES // 64
  assert params.trainer.train_steps == 15 * steps_per_epoch
  lr = params.trainer.optimizer_config.learning_rate.stepwise
  assert lr.boundaries == [10 * steps_per_epoch, 13 * steps_per_epoch]
  assert lr.values[0] == pytest.approx(0.8 * 64 / 256)
  assert params.trainer.validation_interval == params.trainer.train_steps


def test_shapes_pretraining_trains_the_shapes_mask_rcnn_backbone():
  params = exp_factory.get_exp_config('resnet_gn_shapes_pretrain')
  params.validate()
  detector = exp_factory.get_exp_config('maskrcnn_gn_shapes')
  ours = params.task.model.backbone.resnet_gn.as_dict()
  theirs = detector.task.model.backbone.resnet_gn.as_dict()
  # The same network; only the weight decay on gamma/beta differs (on for
  # pretraining, as the ImageNet recipe; off for fine-tuning).
  assert {k: v for k, v in ours.items() if k != 'norm_weight_decay'} == {
      k: v for k, v in theirs.items() if k != 'norm_weight_decay'}
  assert ours['norm_weight_decay'] and not theirs['norm_weight_decay']
  assert params.task.make_shapes_if_missing
  assert params.task.model.num_classes == 12  # 3 kinds x 1-4 shapes.
  assert params.task.train_data.aug_rand_hflip  # A flip keeps the class.


@pytest.mark.parametrize('name,style', [('resnet_gn_fashion_photos', 'photos'),
                                        ('resnet_gn_fashion_plain', 'plain')])
def test_fashion_mnist_experiments_are_the_studys_protocol(name, style):
  params = exp_factory.get_exp_config(name)
  params.validate()
  task = params.task
  assert (task.make_fashion_mnist_if_missing, task.fashion_mnist_style) == (
      True, style)
  per_class = cfgs.FASHION_MNIST_TRAIN_PER_CLASS
  assert task.fashion_mnist_train_per_class == per_class
  assert f'fashion_{style}_{cfgs.FASHION_MNIST_TRAIN_EXAMPLES}' in (
      task.train_data.input_path)
  backbone = task.model.backbone.resnet_gn
  assert (backbone.stem_type, backbone.num_stages, backbone.groups,
          backbone.depth_multiplier) == ('cifar', 3, 8, 0.25)
  assert not backbone.norm_weight_decay and backbone.zero_init_last_gamma
  assert task.model.input_size == [32, 32, 3]
  assert task.train_data.global_batch_size == 64  # 32 x 2 replicas.
  steps_per_epoch = cfgs.FASHION_MNIST_TRAIN_EXAMPLES // 64
  epochs = cfgs.FASHION_MNIST_EPOCHS
  assert params.trainer.train_steps == epochs * steps_per_epoch
  lr = params.trainer.optimizer_config.learning_rate.stepwise
  assert lr.values[0] == pytest.approx(0.4 * 64 / 256)
  assert lr.boundaries == [epochs * 2 // 3 * steps_per_epoch,
                           epochs * 8 // 9 * steps_per_epoch]
  assert params.trainer.optimizer_config.warmup.linear.warmup_steps == (
      steps_per_epoch)
  assert params.trainer.train_steps // params.trainer.validation_interval == (
      cfgs.FASHION_MNIST_EVALUATIONS)
  # The 10,000 test images split evenly: no replica sees an empty batch.
  assert 10000 % task.validation_data.global_batch_size == 0
