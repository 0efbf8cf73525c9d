"""Specification of the single-pixel ramp figure, :mod:`jumpdet.plotting`."""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from jumpdet.flags import DO_NOT_USE, JUMP_DET, SATURATED
from jumpdet.simulate.ramps import simulate_ramp

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

from jumpdet import plotting  # noqa: E402

PIXEL = (2, 3)


@pytest.fixture
def ramp():
    """1 x 8 x 4 x 5 ramp: a flagged 800 DN jump at ``PIXEL`` in group 3, groups 6-7 saturated."""
    sim = simulate_ramp((1, 8, 4, 5), seed=0, jump_fraction=0.0, flux_dn_per_s=20.0)
    data = sim.data.copy()
    data[0, 3:, PIXEL[0], PIXEL[1]] += 800.0
    groupdq = sim.groupdq.copy()
    groupdq[0, 3, PIXEL[0], PIXEL[1]] |= JUMP_DET
    groupdq[0, 6:, PIXEL[0], PIXEL[1]] |= SATURATED | DO_NOT_USE
    return data, groupdq


def _line(ax, gid):
    (line,) = [artist for artist in ax.get_lines() if artist.get_gid() == gid]
    return line


def test_returns_a_two_panel_figure_with_the_ramp(ramp):
    data, groupdq = ramp
    fig = plotting.plot_pixel_ramp(data, groupdq, PIXEL)
    assert isinstance(fig, Figure)
    ramp_ax, dq_ax = fig.axes
    ramp_line = ramp_ax.get_lines()[0]
    assert_array_equal(ramp_line.get_xdata(), np.arange(8))
    assert_array_equal(ramp_line.get_ydata(), data[0, :, PIXEL[0], PIXEL[1]])
    assert ramp_ax.get_title() == "pixel (y=2, x=3, 0-based), integration 0"
    assert ramp_ax.get_ylabel() == "DN"
    assert dq_ax.get_xlabel() == "group"


def test_flagged_groups_are_marked_and_in_the_legend(ramp):
    data, groupdq = ramp
    ax = plotting.plot_pixel_ramp(data, groupdq, PIXEL).axes[0]
    jumps = _line(ax, "JUMP_DET")
    assert_array_equal(jumps.get_xdata(), [3])
    assert_array_equal(jumps.get_ydata(), [data[0, 3, PIXEL[0], PIXEL[1]]])
    assert jumps.get_linestyle() == "None"
    assert_array_equal(_line(ax, "SATURATED").get_xdata(), [6, 7])
    assert_array_equal(_line(ax, "DO_NOT_USE").get_xdata(), [6, 7])
    markers = {_line(ax, name).get_marker() for name in ("JUMP_DET", "SATURATED", "DO_NOT_USE")}
    assert len(markers) == 3
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert {"ramp", "JUMP_DET", "SATURATED", "DO_NOT_USE"} <= set(legend)


def test_unflagged_pixel_has_no_flag_markers(ramp):
    data, groupdq = ramp
    ax = plotting.plot_pixel_ramp(data, groupdq, (0, 0)).axes[0]
    assert [line.get_gid() for line in ax.get_lines()] == [None]


def test_groupdq_panel_shows_values_and_flag_names(ramp):
    data, groupdq = ramp
    dq_ax = plotting.plot_pixel_ramp(data, groupdq, PIXEL).axes[1]
    heights = [patch.get_height() for patch in dq_ax.patches]
    assert_array_equal(heights, groupdq[0, :, PIXEL[0], PIXEL[1]])
    notes = {round(text.xy[0]): text.get_text() for text in dq_ax.texts}
    assert notes == {3: "JUMP_DET", 6: "DO_NOT_USE\nSATURATED", 7: "DO_NOT_USE\nSATURATED"}


def test_truth_group_draws_a_vertical_line(ramp):
    data, groupdq = ramp
    ax = plotting.plot_pixel_ramp(data, groupdq, PIXEL, truth_group=3, title="injected").axes[0]
    assert_array_equal(_line(ax, "truth_group").get_xdata(), [3, 3])
    assert ax.get_title() == "injected"
    assert "injected jump (group 3)" in [text.get_text() for text in ax.get_legend().get_texts()]


def test_draws_into_a_given_ax_without_a_dq_panel(ramp):
    data, groupdq = ramp
    fig = Figure()
    ax = fig.add_subplot()
    returned = plotting.plot_pixel_ramp(data, groupdq, PIXEL, ax=ax, integration=0)
    assert returned is fig
    assert fig.axes == [ax]
    assert_array_equal(_line(ax, "JUMP_DET").get_xdata(), [3])
    assert ax.get_xlabel() == "group"


def test_does_not_leave_pyplot_figures_open(ramp, tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    before = plt.get_fignums()
    plotting.plot_pixel_ramp(*ramp, PIXEL)
    plotting.save_pixel_ramp_png(tmp_path / "ramp.png", *ramp, PIXEL)
    assert plt.get_fignums() == before


def test_save_writes_a_png(ramp, tmp_path):
    data, groupdq = ramp
    path = plotting.save_pixel_ramp_png(
        str(tmp_path / "ramp.png"), data, groupdq, PIXEL, truth_group=3, dpi=50
    )
    assert path == tmp_path / "ramp.png"
    content = path.read_bytes()
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(content) > 1000


def test_save_refuses_an_ax(ramp, tmp_path):
    with pytest.raises(TypeError, match="ax"):
        plotting.save_pixel_ramp_png(tmp_path / "ramp.png", *ramp, PIXEL, ax=Figure().add_subplot())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"yx": (4, 0)}, "outside"),
        ({"yx": (0, -1)}, "outside"),
        ({"integration": 1}, "integration"),
        ({"truth_group": 8}, "truth_group"),
    ],
)
def test_bad_arguments_raise(ramp, kwargs, match):
    data, groupdq = ramp
    kwargs = {"yx": PIXEL} | kwargs
    with pytest.raises(ValueError, match=match):
        plotting.plot_pixel_ramp(data, groupdq, **kwargs)


def test_groupdq_must_match_data(ramp):
    data, groupdq = ramp
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_pixel_ramp(data, groupdq[:, :-1], PIXEL)


def test_flag_names_match_stdatamodels():
    dqflags = pytest.importorskip("stdatamodels.jwst.datamodels.dqflags")
    expected = {value: name for name, value in dqflags.group.items() if value}
    assert expected == plotting.GROUPDQ_FLAG_NAMES
    assert plotting.groupdq_flag_names(JUMP_DET | DO_NOT_USE | 16) == ["DO_NOT_USE", "JUMP_DET", "BIT_16"]
    assert plotting.groupdq_flag_names(0) == []


@pytest.mark.slow
def test_package_imports_without_matplotlib():
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'matplotlib':\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import jumpdet.plotting, jumpdet.simulate.ramps\n"
        "assert jumpdet.plotting.groupdq_flag_names(4) == ['JUMP_DET']\n"
    )
    subprocess.run([sys.executable, "-c", blocker], check=True)


def test_jump_map_shows_the_jumps_per_pixel_beside_the_last_group(ramp):
    data, groupdq = ramp
    groupdq[0, 5, 0, 1] |= JUMP_DET
    fig = plotting.plot_jump_map(groupdq, data, integration=0)
    map_ax, last_ax = (ax for ax in fig.axes if ax.get_images())
    (jump_image,) = map_ax.get_images()
    expected = np.zeros((4, 5), int)
    expected[PIXEL], expected[0, 1] = 1, 1
    assert jump_image.get_gid() == "jump_map"
    assert_array_equal(jump_image.get_array(), expected)
    assert_array_equal(last_ax.get_images()[0].get_array(), data[0, -1])
    assert len(fig.axes) == 4  # two images, two colour bars
    assert map_ax.get_xlabel() == "x (column, 0-based)" and map_ax.get_ylabel() == "y (row, 0-based)"
    assert "integration 0" in map_ax.get_title() and "2 of 20 pixels hit" in map_ax.get_title()


def test_jump_map_of_a_large_frame_shows_the_most_jumps_of_each_block():
    groupdq = np.zeros((1, 3, 6, 6), np.uint8)
    groupdq[0, 1:, 4, 1] = JUMP_DET  # two jumps in one pixel
    groupdq[0, 1, 0, 5] = JUMP_DET
    fig = plotting.plot_jump_map(groupdq, block=3)
    (image,) = fig.axes[0].get_images()
    assert_array_equal(image.get_array(), [[0, 1], [2, 0]])
    assert image.get_extent() == [-0.5, 5.5, -0.5, 5.5]  # still in detector pixels


def test_pixel_integrations_are_drawn_side_by_side(ramp):
    data, groupdq = ramp
    data, groupdq = np.concatenate([data, data + 5]), np.concatenate([groupdq, groupdq])
    fig = plotting.plot_pixel_integrations(data, groupdq, PIXEL)
    ramp_axes = [ax for ax in fig.axes if ax.get_ylabel() == "DN"]
    for intg, ax in enumerate(ramp_axes):
        assert_array_equal(ax.get_lines()[0].get_ydata(), data[intg, :, PIXEL[0], PIXEL[1]])
        assert ax.get_title() == f"pixel (y=2, x=3, 0-based), integration {intg}"
    assert len(ramp_axes) == 2


def test_significance_histogram_counts_the_primary_jumps_and_draws_the_thresholds():
    from astropy.table import Table

    catalog = Table({"cause": ["primary", "primary", "neighbour", "primary"],
                     "significance_sigma": [4.5, 12.0, np.nan, 150.0]})  # fmt: skip
    catalog.meta["thresholds_sigma"] = {"rejection_threshold": 4.0, "three_group_rejection_threshold": 6.0}
    ax = plotting.plot_significance(catalog).axes[0]
    assert sum(patch.get_height() for patch in ax.patches) == 3
    lines = {line.get_gid(): line.get_xdata()[0] for line in ax.get_lines()}
    assert lines == {"threshold:rejection_threshold": 4.0, "threshold:three_group_rejection_threshold": 6.0}
