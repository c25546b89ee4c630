"""Files written whole or not at all (into a temporary file beside the target, then renamed over it), and JSON
read back with errors that name the file."""
import contextlib
import json
import os
import os.path as osp
import tempfile
from typing import IO, Iterator, Optional

import numpy as np


@contextlib.contextmanager
def atomic_output(path: str, mode: str = 'w', overwrite: bool = True) -> Iterator[IO]:
    """Open a temporary file in ``path``'s folder for writing; on leaving the block without an error it replaces
    ``path``, on an error it is removed and ``path`` is left as it was.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    if not overwrite and osp.exists(path):
        raise FileExistsError(f'{path} exists (pass --overwrite to replace it)')
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.partial', dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_json_atomic(obj, path: str, overwrite: bool = True) -> str:
    """``obj`` as indented JSON (one trailing newline) at ``path``, written whole or not at all."""
    with atomic_output(path, 'w', overwrite) as f:
        json.dump(obj, f, indent=1)
        f.write('\n')
    return path


def save_npy_atomic(path: str, array: np.ndarray, overwrite: bool = True) -> str:
    """``np.save`` of ``array`` at ``path``, written whole or not at all."""
    with atomic_output(path, 'wb', overwrite) as f:
        np.save(f, array)
    return path


def read_json(path: str, error=ValueError, where: Optional[str] = None, hint: str = ''):
    """The JSON document in ``path``; an unreadable file or invalid JSON (e.g. truncated) raises ``error`` naming
    ``where`` (default: the path), the position of the fault and ``hint``."""
    where = where or path
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError) as e:
        raise error(f'{where}: cannot read it ({e})') from None
    except json.JSONDecodeError as e:
        raise error(f'{where}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}){hint}') from None
