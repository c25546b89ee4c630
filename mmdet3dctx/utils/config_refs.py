"""Config references: ``'${name}'`` in a config stands for the top-level variable ``name`` of the final config.

MMEngine evaluates each base file once, so a value a base copies from one of its variables (``num_slices=
num_slices``) keeps the base's value when a leaf or ``--cfg-options`` changes the variable. A reference is read
when the whole config is known (after inheritance and ``--cfg-options``), so one top-level variable reaches every
place that names it: the slice count of the backbone, the 3D->2D reduction and the loaders, the data root of
every dataset. MMEngine leaves ``${...}`` alone (its own substitutions are ``{{...}}``).

* A string that is exactly ``'${name}'`` becomes the variable's value, type kept (an int stays an int, a tuple
  a tuple, ``None`` stays ``None``); each place gets its own copy.
* A string with ``${name}`` inside other text has the value written into it
  (``'${data_root}annotations/instances_val2017.json'``); only strings and numbers can be written into text.
* References inside top-level variables are resolved first (``a = '${b}'`` is fine), a cycle is an error.
* A name that is no top-level variable is an error naming the key path of the reference.
"""
import copy
import re
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Tuple

if TYPE_CHECKING:  # MMEngine is imported where configs are used: `import mmdet3dctx` works without it
    from mmengine.config import Config

__all__ = ['ConfigReferenceError', 'resolve_config_refs', 'find_config_refs', 'check_config_resolved']

#: ``${name}`` with ``name`` a Python identifier (the form of a top-level config variable).
REFERENCE = re.compile(r'\$\{([A-Za-z_]\w*)\}')

#: What the error of an unresolved reference tells the user to do.
HOW_TO_RESOLVE = ('read configs with mmdet3dctx.apis.load_config (or pass a Config through '
                  'mmdet3dctx.utils.resolve_config_refs)')


class ConfigReferenceError(ValueError):
    """A config reference that names no top-level variable, takes part in a cycle, cannot be written into text,
    or reaches a component unresolved; the message names the key path."""


def _join(path: str, key: Any) -> str:
    return f'{path}.{key}' if path else str(key)


class _Resolver:
    """Resolves the references of one config dict; each top-level variable is resolved once (memoised)."""

    def __init__(self, top: dict) -> None:
        self.top = top
        self.done: Dict[str, Any] = {}
        self.active: List[str] = []  # top-level variables being resolved, outermost first

    def variable(self, name: str, path: str) -> Any:
        if name in self.done:
            return self.done[name]
        if name not in self.top:
            raise ConfigReferenceError(f'{path}: ${{{name}}} names no top-level variable')
        if name in self.active:
            cycle = ' -> '.join(self.active[self.active.index(name):] + [name])
            raise ConfigReferenceError(f'{path}: ${{{name}}} refers to itself ({cycle})')
        self.active.append(name)
        value = self.value(self.top[name], name)
        self.active.pop()
        self.done[name] = value
        return value

    def text(self, name: str, path: str) -> str:
        value = self.variable(name, path)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigReferenceError(f'{path}: ${{{name}}} is {value!r}; only strings and numbers can be written '
                                       'into text (a string that is exactly the reference takes any value)')
        return str(value)

    def value(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            whole = REFERENCE.fullmatch(value)
            if whole:
                return copy.deepcopy(self.variable(whole.group(1), path))
            if '${' in value:
                return REFERENCE.sub(lambda m: self.text(m.group(1), path), value)
            return value
        if isinstance(value, dict):  # ConfigDict included: changed in place, its type and key order kept
            for key, item in list(dict.items(value)):
                value[key] = self.value(item, _join(path, key))
            return value
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(item, _join(path, i)) for i, item in enumerate(value))
        return value


def resolve_config_refs(cfg: 'Config') -> 'Config':
    """A copy of ``cfg`` with every ``${name}`` reference replaced by the top-level variable ``name``.

    Pure (``cfg`` is left as it is) and idempotent (a resolved config has no references left). Applied by
    :func:`mmdet3dctx.apis.load_config` after ``--cfg-options`` are merged, and by ``SafeRunner.from_cfg``.

    Args:
        cfg (Config): A config as MMEngine reads it, overrides merged.

    Returns:
        Config: The resolved copy.

    Raises:
        ConfigReferenceError: For a name that is no top-level variable, a cycle, or a value that cannot be
            written into text; the message names the key path of the reference.

    Example:
        >>> from mmengine.config import Config
        >>> cfg = Config(dict(num_slices=3, data_root='data/coco/', window=(-1024, 2050),
        ...                   loader=dict(num_slices='${num_slices}', window='${window}'),
        ...                   ann_file='${data_root}annotations/val.json'))
        >>> out = resolve_config_refs(cfg)
        >>> out.loader.num_slices, out.loader.window, out.ann_file
        (3, (-1024, 2050), 'data/coco/annotations/val.json')
        >>> cfg.loader.num_slices  # the input is unchanged
        '${num_slices}'
        >>> resolve_config_refs(Config(dict(model=dict(num_slices='${slices}'))))
        Traceback (most recent call last):
        ...
        mmdet3dctx.utils.config_refs.ConfigReferenceError: model.num_slices: ${slices} names no top-level variable
    """
    out = copy.deepcopy(cfg)
    top = out._cfg_dict  # the ConfigDict itself: its values are resolved in place, MMEngine's types kept
    resolver = _Resolver(top)
    for name in list(dict.keys(top)):
        dict.__setitem__(top, name, resolver.variable(name, name))
    return out


def find_config_refs(value: Any, path: str = '') -> Iterator[Tuple[str, str]]:
    """The ``(key path, reference)`` pairs of the ``${name}`` references left in ``value`` (a config, a dict, a
    list or tuple, or a string)."""
    from mmengine.config import Config
    yield from _find_refs(value._cfg_dict if isinstance(value, Config) else value, path)


def _find_refs(value: Any, path: str) -> Iterator[Tuple[str, str]]:
    if isinstance(value, str):
        for match in REFERENCE.finditer(value):
            yield path, match.group(0)
    elif isinstance(value, dict):
        for key, item in dict.items(value):
            yield from _find_refs(item, _join(path, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _find_refs(item, _join(path, i))


def check_config_resolved(value: Any, owner: str) -> None:
    """Stop a component from being built from an unresolved config (``Config.fromfile`` without the reader).

    Called by the components that consume referenced values (the detector, the DeepLesion dataset, the slice
    loader) on their arguments, so the error names the reference instead of failing inside PyTorch or NumPy.

    Args:
        value: The component's arguments (a dict of them, or one value).
        owner (str): The component, named in the message.

    Raises:
        ConfigReferenceError: If ``value`` holds a ``${name}`` reference.

    Example:
        >>> check_config_resolved(dict(num_slices='${num_slices}'), 'LoadDeepLesionSlices')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mmdet3dctx.utils.config_refs.ConfigReferenceError: LoadDeepLesionSlices: unresolved config reference \
${num_slices} (num_slices): read configs with mmdet3dctx.apis.load_config ...
    """
    for path, ref in find_config_refs(value):
        where = f' ({path})' if path else ''
        raise ConfigReferenceError(f'{owner}: unresolved config reference {ref}{where}: {HOW_TO_RESOLVE}')
