"""Self-contained agent checkpoints: one ``.safetensors`` file per snapshot.

A checkpoint holds all that is needed to rebuild an agent: the weights, the observation
normalisation statistics (ordinary tensors such as ``obs_norm.mean``, ``obs_norm.var`` and
``obs_norm.count``, so that a loaded agent sees observations on the scale it was trained on) and a
:class:`CheckpointMeta` record.
The record lives in the safetensors header's ``__metadata__`` map (string -> string)::

    "format":         "robosumo-arena-checkpoint"
    "format_version": "1"
    "meta":           JSON of CheckpointMeta

Loading never unpickles: files are read by safetensors' safe loader only, after a check of the
framing, so that a pickle, a truncated file or a foreign safetensors file is refused with a message
naming the file and the problem.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import secrets
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

FORMAT_NAME = "robosumo-arena-checkpoint"
FORMAT_VERSION = 1
# Versions this code reads; a writer that changes the layout bumps FORMAT_VERSION.
SUPPORTED_FORMAT_VERSIONS: tuple[int, ...] = (1,)
SUFFIX = ".safetensors"

# A header holds tensor names, shapes and our metadata (a few KB). The bound refuses a garbage
# length field or a bloated metadata record before anything is read into memory.
_MAX_HEADER_BYTES = 4 * 1024 * 1024
# The largest file loaded: the zoo's checkpoints are under 1 MB, RL^2/MAML training states a few.
MAX_CHECKPOINT_BYTES = 256 * 1024 * 1024
_PREFIX = 8  # bytes of the little-endian u64 header length


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, truncated, foreign or not what was expected."""


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but True is not a version number.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class CheckpointMeta:
    """What a checkpoint is and how it was produced.

    Attributes:
        kind: Agent family that can rebuild it: "ppo-mlp", "ppo-lstm", "maml", "rl2", "norml", ...
        body: Robot body the policy controls ("ant", "bug", "spider"), or None.
        env_id: Environment id it was trained on, or None.
        config: JSON-compatible dict of the config that produced it (tuples come back as lists).
        lineage: Lineage this snapshot belongs to, or None for a standalone checkpoint.
        version: Snapshot number (>= 1) within its lineage, or None.
        extra: Free JSON-compatible information (training step, date, command line, ...).
        format_version: File format version of the record; this code writes FORMAT_VERSION.
    """

    kind: str
    body: str | None
    env_id: str | None
    config: dict[str, Any]
    lineage: str | None = None
    version: int | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        problem = None
        if not isinstance(self.kind, str) or not self.kind:
            problem = f"kind must be a non-empty string, got {self.kind!r}"
        for name in ("body", "env_id", "lineage"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                problem = f"{name} must be a string or None, got {getattr(self, name)!r}"
        for name in ("config", "extra"):
            if not isinstance(getattr(self, name), dict):
                problem = f"{name} must be a dict, got {type(getattr(self, name)).__name__}"
        if self.version is not None and not (_is_int(self.version) and self.version >= 1):
            problem = f"version must be an int >= 1 or None, got {self.version!r}"
        if not _is_int(self.format_version):
            problem = f"format_version must be an int, got {self.format_version!r}"
        if problem is not None:
            raise ValueError(f"CheckpointMeta.{problem}")

    def to_json(self) -> str:
        """Serialise to a JSON object string; raises ValueError if config or extra is not JSON."""
        try:
            return json.dumps(dataclasses.asdict(self), sort_keys=True)
        except TypeError as exc:
            raise ValueError(
                f"CheckpointMeta config/extra must be JSON-serialisable: {exc}"
            ) from exc


def save_checkpoint(
    path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor], meta: CheckpointMeta
) -> Path:
    """Write tensors and metadata to one ``.safetensors`` file, atomically.

    The bytes go to a temporary file in the destination directory that is then renamed over the
    final name, so a crash leaves the previous file or the complete new one, never a partial one.
    Missing parent directories are created.

    Args:
        path: Destination; must end in ``.safetensors``.
        tensors: Name -> tensor, including the observation-normalisation statistics (e.g.
            ``obs_norm.mean``, ``obs_norm.var``, ``obs_norm.count``). Tensors are copied to CPU and
            made contiguous; autograd state is dropped.
        meta: The checkpoint's metadata; its format_version must be FORMAT_VERSION.

    Returns:
        The path written.

    Raises:
        ValueError: A wrong suffix or format_version, a bad name or non-tensor value, or a tensor
            with NaN/inf values (a diverged agent must not be saved as if it were good).
    """
    path = Path(path)
    if path.suffix != SUFFIX:
        raise ValueError(f"checkpoint path must end in {SUFFIX!r}, got {str(path)!r}")
    if meta.format_version != FORMAT_VERSION:
        raise ValueError(
            f"this code writes checkpoint format version {FORMAT_VERSION} only, "
            f"meta says {meta.format_version}"
        )
    prepared: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"tensor names must be non-empty strings but '__metadata__': {name!r}")
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"tensor {name!r} is a {type(tensor).__name__}, expected torch.Tensor")
        # copy=True gives every entry its own storage: safetensors refuses tensors sharing memory.
        cpu = tensor.detach().to("cpu", copy=True).contiguous()
        if (cpu.is_floating_point() or cpu.is_complex()) and not bool(torch.isfinite(cpu).all()):
            bad = int((~torch.isfinite(cpu)).sum())
            raise ValueError(
                f"tensor {name!r} has {bad} non-finite (NaN/inf) value(s); refusing to save "
                f"{str(path)!r}: only finite tensors are accepted"
            )
        prepared[name] = cpu
    header = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "meta": meta.to_json()}
    data = safetensors.torch.save(prepared, metadata=header)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, data)
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    # A random name opened with O_EXCL cannot collide with a concurrent writer; mode 0o666 lets the
    # umask give the file the same permissions as any other file the user creates.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # Make the rename itself durable on POSIX; Windows cannot open directories, hence the guard.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load_checkpoint(
    path: str | os.PathLike[str], expected_kind: str | None = None
) -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
    """Read a checkpoint written by :func:`save_checkpoint`, without ever unpickling.

    The framing and the header are checked before the tensors are read, so that a file whose
    header promises more than it holds, or more than a checkpoint may hold, costs no memory.

    Args:
        path: The ``.safetensors`` file.
        expected_kind: If given, the file's meta.kind must equal it.

    Returns:
        (tensors on CPU, metadata).

    Raises:
        CheckpointError: The file is missing, not a regular file, larger than
            MAX_CHECKPOINT_BYTES, not safetensors (e.g. a torch.save pickle), truncated, without
            our metadata, of an unsupported format version, with malformed metadata, or of
            another kind than expected_kind. The message names the file and the problem.
    """
    path = Path(path)
    where = f"checkpoint {str(path)!r}"
    with _open_checked(path, where) as (handle, size):
        header = _read_header(where, handle, size)
        meta = _parse_meta(where, header.get("__metadata__"))
        if expected_kind is not None and meta.kind != expected_kind:
            raise CheckpointError(f"{where} is of kind {meta.kind!r}, expected {expected_kind!r}")
        handle.seek(0)
        data = handle.read(size)
    try:
        tensors = safetensors.torch.load(data)
    except Exception as exc:  # the Rust loader raises SafetensorError and friends
        raise CheckpointError(f"{where} is corrupt: safetensors says: {exc}") from exc
    for name, tensor in tensors.items():  # saving refuses them; a file that has them is spoiled
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{where} is corrupt: tensor {name!r} holds NaN or infinite "
                                  f"values")
    return tensors, meta


def read_meta(path: str | os.PathLike[str], expected_kind: str | None = None) -> CheckpointMeta:
    """The metadata of a checkpoint, from its header alone (no tensor is read).

    Raises:
        CheckpointError: as :func:`load_checkpoint`, for what the header shows.
    """
    path = Path(path)
    where = f"checkpoint {str(path)!r}"
    with _open_checked(path, where) as (handle, size):
        meta = _parse_meta(where, _read_header(where, handle, size).get("__metadata__"))
    if expected_kind is not None and meta.kind != expected_kind:
        raise CheckpointError(f"{where} is of kind {meta.kind!r}, expected {expected_kind!r}")
    return meta


@contextlib.contextmanager
def _open_checked(path: Path, where: str):
    """Open a regular file of a checkpoint's size; yields (handle, size)."""
    # is_file() follows links: a link to a device, a FIFO or a directory is refused here.
    if not path.is_file():
        raise CheckpointError(f"{where} does not exist or is not a regular file")
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise CheckpointError(f"{where} cannot be read: {exc.strerror or exc}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(
                f"{where} is {size:,} bytes; checkpoints are at most {MAX_CHECKPOINT_BYTES:,} "
                f"bytes (the zoo's are under 1 MB)"
            )
        yield handle, size


def _read_header(where: str, handle: Any, size: int) -> dict[str, Any]:
    """Read and check the framing and JSON header from an open file of ``size`` bytes."""
    head = handle.read(_PREFIX + 1)
    if not head:
        raise CheckpointError(f"{where} is empty (0 bytes): truncated or never written")
    # torch.save writes a zip archive ('PK') or, in its legacy format, a raw pickle (opcode 0x80).
    # Those bytes can also open a valid file (they are the low bytes of the header length), so
    # only a file whose JSON header does not start where the length field says is taken for one.
    framed = len(head) > _PREFIX and head[_PREFIX:_PREFIX + 1] == b"{"
    if not framed and (head[:2] == b"PK" or head[:1] == b"\x80"):
        raise CheckpointError(
            f"{where} is a pickle/torch.save file, not safetensors; pickles are never loaded "
            f"because they can execute code. Re-save it with save_checkpoint"
        )
    if len(head) < _PREFIX:
        raise CheckpointError(
            f"{where} is truncated: {len(head)} bytes, fewer than the 8-byte header length"
        )
    (header_len,) = struct.unpack("<Q", head[:_PREFIX])
    available = size - _PREFIX
    if header_len > _MAX_HEADER_BYTES:
        raise CheckpointError(
            f"{where} is not a safetensors file: its header length field says {header_len} bytes "
            f"(at most {_MAX_HEADER_BYTES:,} are allowed)"
        )
    if header_len > available:
        raise CheckpointError(
            f"{where} is truncated: the header needs {header_len} bytes but only {available} "
            f"follow the length field"
        )
    handle.seek(_PREFIX)
    raw = handle.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{where} is not a safetensors file: header is not JSON ({exc})"
        ) from exc
    except RecursionError:
        raise CheckpointError(f"{where} is not a checkpoint: its header nests too deeply") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where} is not a safetensors file: its header is not an object")
    needed = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_int, offsets))
                and 0 <= offsets[0] <= offsets[1]):
            raise CheckpointError(f"{where} has a malformed header entry for tensor {key!r}")
        needed = max(needed, offsets[1])
    if needed > available - header_len:
        raise CheckpointError(
            f"{where} is truncated: the header describes {needed} bytes of tensor data but only "
            f"{available - header_len} are present"
        )
    return header


def _parse_meta(where: str, metadata: Any) -> CheckpointMeta:
    if isinstance(metadata, dict) and not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in metadata.items()):
        raise CheckpointError(f"{where} has malformed metadata: safetensors metadata maps "
                              f"strings to strings")
    found = metadata.get("format") if isinstance(metadata, dict) else None
    if found != FORMAT_NAME:
        raise CheckpointError(
            f"{where} is a safetensors file but not an agent checkpoint: its metadata 'format' is "
            f"{found!r}, expected {FORMAT_NAME!r}"
        )
    supported = ", ".join(str(v) for v in SUPPORTED_FORMAT_VERSIONS)
    raw_version = metadata.get("format_version")
    try:
        version = int(raw_version)
    except (TypeError, ValueError):
        raise CheckpointError(
            f"{where} has an invalid format_version {raw_version!r}; this code reads versions "
            f"{supported}"
        ) from None
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise CheckpointError(
            f"{where} has format version {version}; this code reads versions {supported} "
            f"(a newer file needs newer code)"
        )
    try:
        fields = json.loads(metadata.get("meta", ""))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{where} has malformed 'meta' JSON: {exc}") from exc
    except RecursionError:
        raise CheckpointError(f"{where} has malformed 'meta' JSON: nested too deeply") from None
    expected = sorted(f.name for f in dataclasses.fields(CheckpointMeta))
    if not isinstance(fields, dict) or sorted(fields) != expected:
        got = sorted(fields) if isinstance(fields, dict) else type(fields).__name__
        raise CheckpointError(f"{where} has malformed 'meta': fields {got}, expected {expected}")
    if fields["format_version"] != version:
        raise CheckpointError(
            f"{where} is inconsistent: header format_version {version}, meta format_version "
            f"{fields['format_version']!r}"
        )
    try:
        return CheckpointMeta(**fields)
    except ValueError as exc:
        raise CheckpointError(f"{where} has malformed 'meta': {exc}") from exc


def check_shapes(
    tensors: Mapping[str, torch.Tensor],
    expected: Mapping[str, tuple[int, ...]],
    path: str | os.PathLike[str],
    dtypes: Mapping[str, torch.dtype] | None = None,
) -> None:
    """Check that a checkpoint's tensors have exactly the expected names and shapes.

    Call it before loading weights into a module, so that e.g. a bug agent's checkpoint given to an
    ant agent fails with a list of differences instead of a deep torch error.

    Args:
        tensors: Tensors read from the file.
        expected: Name -> shape the receiving agent needs.
        path: The file, named in the error message.
        dtypes: Name -> dtype the receiving agent needs, if checked: a tensor of another dtype
            is refused, never cast (int8 or bool weights are no float32 weights).

    Raises:
        CheckpointError: Listing missing names, unexpected names and every shape or dtype
            mismatch.
    """
    problems: list[str] = []
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing:
        problems.append("missing tensors: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected tensors: " + ", ".join(unexpected))
    for key in sorted(set(expected) & set(tensors)):
        found, wanted = tuple(tensors[key].shape), tuple(expected[key])
        if found != wanted:
            problems.append(f"shape mismatch for {key!r}: file has {found}, expected {wanted}")
        if dtypes is not None and key in dtypes and tensors[key].dtype != dtypes[key]:
            problems.append(f"dtype mismatch for {key!r}: file has {tensors[key].dtype}, "
                            f"expected {dtypes[key]}")
    if problems:
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not fit the agent: " + "; ".join(problems)
        )


def load_module(path: str | os.PathLike[str], kind: str,
                build: Callable[[dict[str, Any]], torch.nn.Module],
                what: str) -> tuple[Any, CheckpointMeta]:
    """Load a checkpoint of ``kind`` into the module ``build(meta.config)`` makes.

    Args:
        path: The file.
        kind: The checkpoint kind it must have.
        build: Makes the receiving module from the checkpoint's config.
        what: What the config must describe, for the error message (e.g. "an RL^2 policy").

    Raises:
        ValueError: The config does not describe such a module.
        CheckpointError: The file is refused, or its tensors do not fit the module.
    """
    tensors, meta = load_checkpoint(path, expected_kind=kind)
    return build_checked(lambda: build(meta.config), tensors, path, what=what), meta


def build_checked(build: Callable[[], torch.nn.Module], tensors: Mapping[str, torch.Tensor],
                  path: str | os.PathLike[str], prefix: str = "",
                  what: str = "the agent") -> Any:
    """Build the module that receives a checkpoint's tensors, only once they fit it.

    A checkpoint's config says how large a network to build; a config that claims a huge one
    must not cost gigabytes before the tensors are found not to fit. The module is first built
    on PyTorch's meta device (names, shapes and dtypes, no memory), the tensors are checked
    against that, and only then is the real module built and loaded.

    Args:
        build: Makes the receiving module.
        tensors: The checkpoint's tensors; those under ``prefix`` are the module's.
        path: The file, for messages.
        prefix: Name prefix of the module's tensors in the file.
        what: What the config must describe, for the error message.

    Raises:
        ValueError: The config does not describe such a module.
        CheckpointError: The tensors do not fit it (names, shapes or dtypes).
    """
    try:
        with torch.device("meta"):
            skeleton = build()
    except (KeyError, TypeError, ValueError, OverflowError, RuntimeError) as err:
        raise ValueError(f"{path}: checkpoint config does not describe {what}: {err}") from None
    expected = skeleton.state_dict()
    mine = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    check_shapes(mine, {k: tuple(v.shape) for k, v in expected.items()}, path,
                 dtypes={k: v.dtype for k, v in expected.items()})
    return load_checked(build(), tensors, path, prefix)


def load_checked(module: Any, tensors: Mapping[str, torch.Tensor],
                 path: str | os.PathLike[str], prefix: str = "") -> Any:
    """Load the tensors under ``prefix`` into ``module`` once names, shapes and dtypes fit.

    Raises:
        CheckpointError: They do not fit (the message lists every difference).
    """
    expected = module.state_dict()
    mine = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    check_shapes(mine, {k: tuple(v.shape) for k, v in expected.items()}, path,
                 dtypes={k: v.dtype for k, v in expected.items()})
    module.load_state_dict(mine)
    return module


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file, e.g. to pin the exact checkpoint a league result used."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
