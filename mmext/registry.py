"""mmext registries.

Each registry is a child of the matching mmengine root registry with scope ``'mmext'``, so host
projects (mmpretrain / mmdet / mmseg) keep their own ``default_scope`` and build our parts as
``type='mmext.Name'``. ``locations`` lets mmengine import the module that registers a name on demand.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry
from mmpretrain.registry import BATCH_AUGMENTS as MMPRETRAIN_BATCH_AUGMENTS

__all__ = [
    'MODELS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS',
    'METRICS', 'EVALUATOR', 'HOOKS', 'LOOPS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'TASK_UTILS', 'VISUALIZERS', 'VISBACKENDS',
    'BATCH_AUGMENTS'
]

_MODELS = ['mmext.models']
_DATA = ['mmext.datasets']
_ENGINE = ['mmext.engine']
_EVAL = ['mmext.evaluation']

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmext', locations=_MODELS)
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope='mmext', locations=_MODELS)
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, scope='mmext', locations=_MODELS)
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope='mmext', locations=_MODELS)
# mmpretrain's batch-augment registry has no mmengine parent: hang ours under it so that
# ``data_preprocessor.batch_augments`` can name ``'mmext.X'``.
BATCH_AUGMENTS = Registry(
    'batch augment', parent=MMPRETRAIN_BATCH_AUGMENTS, scope='mmext', locations=_MODELS)

DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmext', locations=_DATA)
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='mmext', locations=_DATA + _ENGINE)
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmext', locations=_DATA)

METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmext', locations=_EVAL)
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, scope='mmext', locations=_EVAL)

HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmext', locations=_ENGINE)
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='mmext', locations=_ENGINE + _EVAL)
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope='mmext', locations=_ENGINE)
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='mmext', locations=_ENGINE)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope='mmext',
    locations=_ENGINE)
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope='mmext', locations=_ENGINE)

VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, scope='mmext', locations=_ENGINE)
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope='mmext', locations=_ENGINE)
