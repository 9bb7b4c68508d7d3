"""The generator back-end registry: back ends by name, unknown names refused with the list."""

from __future__ import annotations

import pytest

from ragqa.config import Settings
from ragqa.errors import ConfigError
from service.generation import BACKENDS, Generators, backend_name, load_generators


def test_an_unknown_back_end_is_a_config_error_listing_the_valid_ones() -> None:
    settings = Settings(generator_backend="mlx")
    with pytest.raises(ConfigError) as raised:
        load_generators(settings, "model.gguf", answer_slots=1, translator=False)
    message = str(raised.value)
    assert "'mlx'" in message
    assert message.endswith(f"valid: {', '.join(sorted(BACKENDS))}")
    assert {"llama_cpp", "openai", "transformers"} <= set(BACKENDS)


def test_auto_picks_a_registered_back_end() -> None:
    local = Settings(generator_backend="auto", generator_url=None)
    assert backend_name(local, "model.gguf") == "llama_cpp"
    assert backend_name(local, "Qwen/Qwen2.5-1.5B-Instruct") == "transformers"
    assert backend_name(Settings(generator_url="http://127.0.0.1:1/v1"), None) == "openai"


def test_one_registration_makes_a_back_end_loadable_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = Generators(answer=[], translator=None)

    def nothing(
        settings: Settings, model: str | None, slots: int, translator: bool, background: bool
    ) -> Generators:
        return made

    monkeypatch.setitem(BACKENDS, "nothing", nothing)
    settings = Settings(generator_backend="nothing")
    assert load_generators(settings, None, answer_slots=1, translator=False) is made


@pytest.mark.parametrize(
    ("translator", "background"), [(False, False), (True, False), (True, True)]
)
def test_each_engine_generator_pins_a_slot_of_its_own(translator: bool, background: bool) -> None:
    """Answers, the query translator and the background translator never share a slot, so
    one's work never evicts another's cached preamble."""
    from service.generation import Engine, _engine_generators

    engine = Engine(url="http://127.0.0.1:1/v1", model="m")  # never started: no request made
    made = _engine_generators(engine, 2, translator, background)
    pinned = [*made.answer, made.translator, made.background]
    slots = [getattr(g, "slot", None) for g in pinned if g is not None]
    assert slots == list(range(2 + translator + background))
    assert (made.translator is not None, made.background is not None) == (translator, background)
