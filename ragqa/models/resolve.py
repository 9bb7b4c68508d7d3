"""Turn the configured model names into what loaders take: a folder, a GGUF path or a hub id.

A registry name resolves to its cached copy only if that copy verifies (stamp or hash), so a
partial or corrupt file is never handed to a loader. Anything else the user configured is
passed through: an existing local path as is, otherwise as a Hugging Face id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from ragqa.config import Settings
from ragqa.errors import ChecksumError, ConfigError, ModelError, RagqaError
from ragqa.models.embedders import AUTO, LoadedEmbedder, load_embedder, uses_onnx
from ragqa.models.feedback import Feedback, RichFeedback
from ragqa.models.integrity import read_files_manifest
from ragqa.models.provision import FETCH_HINT, fetch_model, inspect_model
from ragqa.models.registry import MODELS, ModelKind, ModelSpec, get_spec

SAMPLE_BYTES = 1024 * 1024


def _names_of(kind: ModelKind) -> str:
    return ", ".join(name for name, spec in MODELS.items() if spec.kind == kind)


def _provisioned(name: str, kind: ModelKind) -> ModelSpec | None:
    spec = MODELS.get(name)
    if spec is not None and spec.kind != kind:
        raise ConfigError(
            f"{name!r} is a provisioned {spec.kind}, not a {kind}; valid: {_names_of(kind)}"
        )
    return spec


def require_provisioned(spec: ModelSpec, cache_dir: Path) -> Path:
    """The verified cached path of `spec`; hashes only when the stamp is stale."""
    status = inspect_model(spec, cache_dir, rehash=False)
    if status.state == "missing":
        raise ModelError(f"model {spec.name} is not provisioned ({status.problem}); {FETCH_HINT}")
    if status.state == "corrupt":
        raise ChecksumError(
            f"model {spec.name} is corrupt: {status.problem}; {FETCH_HINT} (it rebuilds the file)"
        )
    return status.path


def resolve_embedder(settings: Settings) -> str:
    """Folder of the configured embedder, or the configured value as a Hugging Face id."""
    spec = _provisioned(settings.embedder, "embedder")
    if spec is not None:
        return str(require_provisioned(spec, settings.model_cache_dir))
    path = Path(settings.embedder).expanduser()
    if path.is_dir():
        return str(path)
    if path.exists():
        raise ConfigError(
            f"embedder {path} is a file; give a sentence-transformers folder, a Hugging Face id "
            f"or a provisioned name ({_names_of('embedder')})"
        )
    return settings.embedder


def embedder_backend(settings: Settings) -> str:
    """The configured embedder back end, with `auto` taken as the provisioned model asks."""
    spec = _provisioned(settings.embedder, "embedder")
    if settings.embedder_backend == AUTO and spec is not None and spec.backend is not None:
        return spec.backend
    return settings.embedder_backend


def embedder_export(settings: Settings) -> Path | None:
    """Make (or verify) the ONNX export the configured embedder runs on; None on torch.

    `ragqa models fetch` calls it so that the first start of the service does not pay the
    one-time export.
    """
    model_path = resolve_embedder(settings)
    if not uses_onnx(model_path, embedder_backend(settings)):
        return None
    from ragqa.models.onnx_embedder import ensure_onnx_export

    return ensure_onnx_export(model_path, settings.model_cache_dir)


def load_configured_embedder(settings: Settings) -> LoadedEmbedder:
    """The configured embedder on the configured back end, loaded (exported first if needed)."""
    return load_embedder(
        resolve_embedder(settings),
        backend=embedder_backend(settings),
        batch_size=settings.embed_batch_size,
        cache_dir=settings.model_cache_dir,
    )


def resolve_generator(settings: Settings) -> str:
    """GGUF path or model folder of the configured generator, or the value as a Hugging Face id."""
    spec = _provisioned(settings.generator, "generator")
    if spec is not None:
        return str(require_provisioned(spec, settings.model_cache_dir))
    path = Path(settings.generator).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix.lower() == ".gguf"):
        return str(path)
    valid = (
        "a .gguf file, a transformers folder, a Hugging Face id "
        f"or a provisioned name ({_names_of('generator')})"
    )
    if path.exists():
        raise ConfigError(f"generator {path} is not a .gguf file; give {valid}")
    if path.suffix.lower() == ".gguf":
        raise ModelError(f"generator file {path} does not exist; give {valid}")
    return settings.generator


def configured_models(settings: Settings) -> list[ModelSpec]:
    """The registry models the settings use (a hub id or local path needs no provisioning)."""
    chosen = [_provisioned(settings.embedder, "embedder")]
    if not settings.generator_url:  # a remote engine brings its own model
        chosen.append(_provisioned(settings.generator, "generator"))
    return [spec for spec in chosen if spec is not None]


def ensure_models(
    settings: Settings, names: Iterable[str] | None = None, progress: bool = True
) -> dict[str, Path]:
    """Fetch whatever provisioned models the settings use, plus `names`, if not already intact.

    Returns each model's path. What `serve` and test setup call: an intact model costs a stat.
    """
    specs = configured_models(settings) + [get_spec(name) for name in names or ()]
    feedback: Feedback = RichFeedback() if progress else Feedback()
    paths: dict[str, Path] = {}
    for spec in dict.fromkeys(specs):
        status = inspect_model(spec, settings.model_cache_dir, rehash=False)
        if status.state != "ok":
            try:
                fetch_model(spec, settings.model_cache_dir, feedback=feedback)
            except RagqaError as e:
                raise ModelError(
                    f"model {spec.name}: {status.problem}; repairing it failed: {e}"
                ) from e
        paths[spec.name] = status.path
    return paths


def _sampled_digest(path: Path) -> str:
    """Size plus the first and last MiB: changes whenever weights are swapped, costs two reads."""
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(SAMPLE_BYTES))
        handle.seek(max(0, path.stat().st_size - SAMPLE_BYTES))
        digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()


def embedder_fingerprint(path: str) -> str:
    """A short identity of an embedder's weights + config, for the index manifest.

    A converted folder carries the SHA-256 of every file (ragqa-files.json); another local folder
    is sampled (size, first and last MiB of each file); a hub id is its own identity.
    """
    folder = Path(path)
    if not folder.is_dir():
        return f"hub:{path}"
    files = read_files_manifest(folder)
    digest = hashlib.sha256()
    if isinstance(files, list):
        for entry in sorted(files, key=lambda f: f.relpath):
            digest.update(f"{entry.relpath}\0{entry.sha256}\n".encode())
    else:
        for file in sorted(
            p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
        ):
            digest.update(
                f"{file.relative_to(folder).as_posix()}\0{_sampled_digest(file)}\n".encode()
            )
    return digest.hexdigest()[:32]
