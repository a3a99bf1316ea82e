"""Imports every module that registers something, in one place.

Model Garden's registries (experiments, tasks, backbones, decoders) fill when
modules are imported; train.py, export_saved_model.py, the studies and the
tests import this module and nothing else for it. Every import below is for
its registrations only (hence the F401 exemptions).
"""

from official.projects.group_norm.configs import image_classification  # noqa: F401
from official.projects.group_norm.configs import maskrcnn  # noqa: F401
from official.projects.group_norm.configs import video_classification  # noqa: F401
from official.projects.group_norm.modeling import fpn_gn  # noqa: F401
from official.projects.group_norm.modeling import resnet_3d_gn  # noqa: F401
from official.projects.group_norm.modeling import resnet_gn  # noqa: F401
from official.projects.group_norm.tasks import image_classification as _cls_task  # noqa: F401
from official.projects.group_norm.tasks import maskrcnn as _maskrcnn_task  # noqa: F401
from official.projects.group_norm.tasks import video_classification as _vid  # noqa: F401
from official.vision import registry_imports  # noqa: F401
