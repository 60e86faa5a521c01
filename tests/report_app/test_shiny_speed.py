"""The cheaper stand-ins of report_app.shiny_speed give Shiny the same names and source
references as Shiny's own inspection does."""

from __future__ import annotations

from shiny import reactive
from shiny.reactive import _reactives

from report_app import shiny_speed


class Holder:
    pass


def make_values() -> list[reactive.Value]:
    counter = reactive.value(0)
    holder = Holder()
    holder.thing = reactive.Value(1)
    annotated: reactive.Value[int] = reactive.value(2)
    spread: reactive.Value[
        int
    ] = reactive.Value(3)  # fmt: skip
    wrapped = (
        reactive.value(4)
    )  # fmt: skip
    listed = [reactive.value(5)]
    reactive.value(6)
    return [counter, holder.thing, annotated, spread, wrapped, *listed]


def names_with(infer) -> list[str | None]:
    saved = _reactives.Value._try_infer_name
    _reactives.Value._try_infer_name = infer
    try:
        return [value._name for value in make_values()]
    finally:
        _reactives.Value._try_infer_name = saved


def test_value_names_are_the_ones_shiny_infers() -> None:
    shiny_speed.install()
    original = shiny_speed.originals["Value._try_infer_name"]
    ours = names_with(shiny_speed._value_name)
    assert ours == names_with(original)
    assert ours[:5] == ["counter", "thing", "annotated", "spread", "wrapped"]


def test_source_references_are_shiny_s_own_and_kept_per_function() -> None:
    shiny_speed.install()
    original = shiny_speed.originals["shiny.reactive._reactives.extract_source_ref"]

    def figures() -> int:
        return 1

    first = _reactives.extract_source_ref(figures)
    assert first == original(figures)
    assert first["code.function.name"] == "figures"
    first["code.function.name"] = "changed by a caller"
    assert _reactives.extract_source_ref(figures) == original(figures)  # a copy each time
