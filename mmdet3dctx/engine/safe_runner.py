"""MMEngine's Runner with checkpoints that are never left half-written and load errors that name the file."""
import os
import os.path as osp

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmdet3dctx.utils import allow_mmengine_checkpoints, resolve_config_refs


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read (missing, truncated, corrupt); the message names the file."""


class SafeRunner(Runner):
    """``mmengine.runner.Runner`` with two safety properties, selected by ``runner_type = 'SafeRunner'``.

    * A checkpoint is written to ``<name>.tmp`` and renamed over ``<name>`` only once complete, so a job killed
      while saving leaves the previous checkpoints intact and never a truncated one under a real name.
    * Loading or resuming from a truncated or corrupt file raises :class:`CheckpointError` naming the file,
      instead of an unpickling error from deep inside PyTorch. Checkpoints load under PyTorch's
      ``weights_only`` default (the types MMEngine stores are allow-listed, the check stays on) wherever the
      Runner reads one: ``load_checkpoint`` (``resume`` reads through it) and the model's initialisation (an
      ``init_cfg`` of ``type='Pretrained'`` reads its file through MMEngine's loader).

    :meth:`from_cfg` resolves the config references (``'${num_slices}'``,
    :func:`~mmdet3dctx.utils.resolve_config_refs`), so a shipped config also runs when MMEngine or MMDetection's
    own ``tools/train.py`` reads it and builds the runner.
    """

    @classmethod
    def from_cfg(cls, cfg) -> 'SafeRunner':
        """The runner of ``cfg`` (a ``Config`` or a dict), its config references resolved first."""
        return super().from_cfg(resolve_config_refs(cfg if isinstance(cfg, Config) else Config(cfg)))

    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs):
        backend_args = kwargs.get('backend_args') or kwargs.get('file_client_args')
        if backend_args or '://' in str(out_dir):  # remote storage: rename is not available there
            return super().save_checkpoint(out_dir, filename, *args, **kwargs)
        tmp = filename + '.tmp'
        super().save_checkpoint(out_dir, tmp, *args, **kwargs)
        if self.rank == 0:  # the parent's save is master-only
            os.replace(osp.join(out_dir, tmp), osp.join(out_dir, filename))

    def _checked(self, filename: str) -> str:
        if filename is None or '://' in str(filename):
            return filename
        if not osp.isfile(filename):
            raise CheckpointError(f'checkpoint not found: {filename}')
        return filename

    def _init_model_weights(self) -> None:
        allow_mmengine_checkpoints()
        super()._init_model_weights()

    def load_checkpoint(self, filename: str, *args, **kwargs):
        allow_mmengine_checkpoints()
        try:
            return super().load_checkpoint(self._checked(filename), *args, **kwargs)
        except CheckpointError:
            raise
        except Exception as e:
            if _looks_corrupt(e):
                raise CheckpointError(f'{filename}: corrupt or truncated checkpoint ({type(e).__name__}: {e})') from e
            raise

    def resume(self, filename: str, *args, **kwargs):
        try:
            return super().resume(self._checked(filename), *args, **kwargs)
        except CheckpointError:
            raise
        except Exception as e:
            if _looks_corrupt(e):
                raise CheckpointError(f'{filename}: corrupt or truncated checkpoint, cannot resume from it '
                                      f'({type(e).__name__}: {e})') from e
            raise


def _looks_corrupt(e: Exception) -> bool:
    import pickle
    text = str(e)
    return isinstance(e, (EOFError, pickle.UnpicklingError)) or any(
        s in text for s in ('PytorchStreamReader', 'zip archive', 'invalid load key', 'Ran out of input',
                            'unexpected EOF', 'file might be corrupted', 'central directory'))


# MMEngine's root RUNNERS serves every builder: ``mmdet3dctx.apis`` builds from it (the root itself is searched
# while no default scope is set), MMDetection's tools from MMDetection's RUNNERS, which find it in their parent.
RUNNERS.register_module(module=SafeRunner)
