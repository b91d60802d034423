from __future__ import annotations

import pytest
from django.test import override_settings

from billing.pricing import output_size, price


@pytest.mark.parametrize(
    ("mode", "size", "credits"),
    [
        ("smart", (2048, 2048), 4),  # 4.19 MP
        ("dynamic", (2048, 2048), 4),
        ("precise", (2048, 2048), 1),  # 4.19 / 4 = 1.05
        ("precise", (100, 100), 1),  # at least 1
        ("dynamic", (1500, 1000), 2),  # 1.5 MP rounds half up
        ("precise", (5000, 4000), 5),  # 20 MP / 4
        ("restore", (10, 10), 8),
        ("restore", (8000, 8000), 8),
    ],
)
def test_it_prices_by_output_megapixels(mode, size, credits):
    assert price(mode, *size) == credits


def test_it_rounds_output_size_half_up():
    assert output_size(1024, 1024, 2) == (2048, 2048)
    assert output_size(3, 5, 2.5) == (8, 13)  # 7.5 -> 8, 12.5 -> 13
    assert output_size(24, 20, 1.5) == (36, 30)


@override_settings(PRICE_PER_OUTPUT_MEGAPIXEL={"smart": 2.0, "dynamic": 1.0, "precise": 0.25})
def test_it_reads_prices_from_settings():
    assert price("smart", 2048, 2048) == 8


def test_the_faithful_network_is_priced_by_its_cost_to_run():
    # DAT-light (Ximilar's classic model, or named as `model`) costs twice RealESRGAN_x4plus's
    # price per output megapixel: measured 1.7x the CPU time at 2x, 2.5x at 4x.
    assert price("precise", 5000, 4000) == 5  # 20 MP / 4
    assert price("precise", 5000, 4000, "RealESRGAN_x4plus") == 5
    assert price("precise", 5000, 4000, "DAT_light_x4") == price("precise", 5000, 4000, "DAT_light_x2") == 10
    assert price("precise", 5000, 4000, "my_custom_model") == 5  # unmeasured networks: the mode's price
    assert price("restore", 100, 100, "DAT_light_x4") == 8  # flat prices stay flat
