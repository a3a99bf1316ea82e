"""Imports every module that registers something, in one place.

Model Garden's registries (experiments, tasks, backbones) fill when modules
are imported; train.py, export_saved_model.py and tests import this.
"""

# pylint: disable=unused-import
from official.projects.group_norm.configs import image_classification as _cls_configs
from official.projects.group_norm.modeling import resnet_gn as _resnet_gn
from official.projects.group_norm.tasks import image_classification as _cls_task
from official.vision import registry_imports as _vision_registry
