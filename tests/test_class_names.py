"""Any set of class names looks right: colours distinct, QuakeML types mapped, MiniSEED channel codes unique."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope import _colors, plots
from rnnscope._colors import CLASS_COLORS, MIN_DISTANCE, class_color, class_colors, color_distance

CHILE = ["BG", "VT", "LP", "TR", "AV", "IC"]
KNOWN = {"SIL": "#BBBBBB", "TRE": "#E69F00", "LP": "#56B4E9", "VTE": "#D55E00", "HYB": "#009E73"}
names_sets = st.lists(st.one_of(st.sampled_from(list(KNOWN) + CHILE), st.text(min_size=1, max_size=8)), min_size=1,
                     max_size=40, unique=True)


# ---------------------------------------------------------------------------------------------------------------
# colours
# ---------------------------------------------------------------------------------------------------------------
def min_distance(colors):
    return min(color_distance(a, b) for a, b in itertools.combinations(colors, 2))


def test_known_names_keep_their_colours_in_any_set():
    assert CLASS_COLORS == KNOWN
    for names in (list(KNOWN), ["LP", "BG", "VT"], ["HYB", "Tremor", "SIL", "x", "y", "z"]):
        for name in names:
            if name in KNOWN:
                assert class_color(name, names) == KNOWN[name]
    assert plots.class_color is class_color and plots.CLASS_COLORS is CLASS_COLORS


def test_chilean_classes_get_distinct_colours_far_apart():
    colors = [class_color(n, CHILE) for n in CHILE]
    assert len(set(colors)) == 6 and colors[CHILE.index("LP")] == KNOWN["LP"]
    assert min_distance(colors) >= MIN_DISTANCE  # no two blues, no shared colour (BG and IC used to share one)
    assert min_distance(list(KNOWN.values()) + [class_color(n, list(KNOWN) + CHILE) for n in CHILE if n != "LP"]) \
        >= MIN_DISTANCE


@settings(max_examples=60, deadline=None)
@given(names_sets)
def test_any_set_of_names_gets_distinct_colours(names):
    colors = class_colors(names)
    assert list(colors) == names and len(set(colors.values())) == len(names)
    assert all(len(c) == 7 and c.startswith("#") and int(c[1:], 16) >= 0 for c in colors.values())
    assert all(colors[n] == KNOWN[n] for n in names if n in KNOWN)
    assert [class_color(n, names) for n in names] == list(colors.values())
    if len(names) <= 10:
        assert len(names) == 1 or min_distance(list(colors.values())) >= MIN_DISTANCE


def test_colour_distance_is_cie76():
    assert color_distance("#000000", "#FFFFFF") == pytest.approx(100.0, abs=0.01)  # L* from 0 to 100
    assert color_distance("#56B4E9", "#56B4E9") == 0.0
    assert color_distance("#56B4E9", "#0072B2") < MIN_DISTANCE  # the two blues that must not share a set


def test_widgets_and_plots_use_the_colour_module():
    pytest.importorskip("bqplot")
    from rnnscope.widgets import _drawing

    html = _drawing._legend_html(CHILE)
    for name in CHILE:
        assert class_color(name, CHILE) in html
    rgba = _drawing._band_colors(np.array([0, 0, 4, 4, 5, 5]), 2, CHILE)
    assert [tuple(c[:3]) for c in rgba] == [_rgb(class_color(n, CHILE)) for n in ("BG", "AV", "IC")]
    assert "_colors" in _colors.__name__


def _rgb(color):
    return tuple(int(color[k : k + 2], 16) for k in (1, 3, 5))


# ---------------------------------------------------------------------------------------------------------------
# probability MiniSEED: channel codes of any class name
# ---------------------------------------------------------------------------------------------------------------
obspy = pytest.importorskip("obspy")
from rnnscope.monitoring import (  # noqa: E402
    channel_codes,
    probability_stream,
    read_probabilities,
    write_probabilities,
)


@settings(max_examples=60, deadline=None)
@given(names_sets)
def test_channel_codes_are_unique_and_at_most_three_characters(names):
    codes = channel_codes(names)
    assert list(codes) == names and len(set(codes.values())) == len(names)
    assert all(1 <= len(c) <= 3 for c in codes.values())
    for name, code in codes.items():
        if len(name) <= 3 and name.isascii() and name.isalnum():
            assert code == name


def test_long_class_names_write_and_read_back(tmp_path):
    names = ["Background", "VT", "LP", "Tremor", "Tremolo", "Avalanche", "Icequake"]
    rng = np.random.default_rng(0)
    pieces = [(1_500_000_000 * 10**9, 5 * 10**8, rng.dirichlet(np.ones(7), 40)),
              (1_500_000_100 * 10**9, 5 * 10**8, rng.dirichlet(np.ones(7), 10))]
    st_ = probability_stream(pieces, class_names=names, seed_id="KC.BEZ..EHZ")
    assert len(st_) == 14
    path = write_probabilities(st_, tmp_path / "p.mseed")
    back = read_probabilities(path)
    assert sorted({tr.stats.class_name for tr in back}) == sorted(names)
    codes = channel_codes(names)
    assert {tr.stats.channel for tr in back} == set(codes.values())
    for j, name in enumerate(names):
        tr = sorted((t for t in back if t.stats.class_name == name), key=lambda t: t.stats.starttime)
        assert tr[0].stats.channel == codes[name] and tr[0].stats.sampling_rate == 2.0
        np.testing.assert_array_equal(tr[0].data, pieces[0][2][:, j].astype(np.float32))
        np.testing.assert_array_equal(tr[1].data, pieces[1][2][:, j].astype(np.float32))
    # without the sidecar a class name is its channel code
    (tmp_path / "p.mseed.json").unlink()
    assert {tr.stats.class_name for tr in read_probabilities(path)} == set(codes.values())
