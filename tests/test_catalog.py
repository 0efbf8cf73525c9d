"""The jump catalogue: one row per JUMP_DET flag the detection set, with its cause and measurements."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from conftest import examples, linear_ramps, make_ramp_model, make_references
from jumpdet.catalog import read_catalog, write_catalog
from jumpdet.detect import detect_jumps
from jumpdet.flags import DO_NOT_USE, JUMP_DET, SATURATED
from jumpdet.params import JumpParams
from jumpdet.recording import _input_flags
from jumpdet.simulate.events import shower_ramp, snowball_ramp
from jumpdet.simulate.ramps import simulate_ramp
from jumpdet.table_text import ROWS_PER_CHUNK

ONES = np.ones((7, 7), np.float32)


def run(data, gdq=None, *, gain=ONES, read_noise=ONES, **params):
    data = np.asarray(data, np.float32)
    gdq = np.zeros(data.shape, np.uint8) if gdq is None else gdq
    pdq = np.zeros(data.shape[2:], np.uint32)
    return detect_jumps(
        data, gdq, pdq, gain=gain, read_noise=read_noise, params=JumpParams(**params), catalog=True
    )


def rows(table, cause=None):
    """(integration, group, y, x) of the catalogue's rows (of one cause)."""
    if cause is not None:
        table = table[table["cause"] == cause]
    return {tuple(int(v) for v in row) for row in table["integration", "group", "y", "x"]}


def new_flags(result, gdq_in):
    """(integration, group, y, x) of the JUMP_DET flags present at the end and not in the input."""
    return {tuple(map(int, p)) for p in np.argwhere(((result.groupdq & ~gdq_in) & JUMP_DET) != 0)}


def one_jump_ramp(ngroups=12, jump_group=6, nints=1):
    """7x7 pixels rising 10 DN a group; pixel (3, 3) jumps by 500 DN before ``jump_group``."""
    data = linear_ramps((nints, ngroups, 7, 7))
    data[0, jump_group:, 3, 3] += 500
    return data


def test_a_jump_its_neighbours_and_the_groups_after_it_each_have_their_cause():
    data = one_jump_ramp()
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 2, 0, 0] = JUMP_DET  # already flagged: not in the catalogue
    result = run(data, gdq, after_jump_flag_e1=100.0, after_jump_flag_groups1=2)
    table = result.catalog
    assert rows(table, "primary") == {(0, 6, 3, 3)}
    assert rows(table, "neighbour") == {(0, 6, 2, 3), (0, 6, 4, 3), (0, 6, 3, 2), (0, 6, 3, 4)}
    assert rows(table, "after_jump") == {(0, 7, 3, 3), (0, 8, 3, 3)}
    assert len(table) == 7 and rows(table) == new_flags(result, gdq)
    assert_array_equal(table["event_id"], 0)


@pytest.mark.parametrize("flagged", [False, True])
def test_the_record_starts_from_the_input_flags_whether_or_not_there_are_any(flagged):
    gdq = (np.random.default_rng(1).random((2, 3, 5, 16)) < 0.2).astype(np.uint8) * SATURATED
    if flagged:
        gdq[1, 2, 4, 9] |= JUMP_DET
    assert_array_equal(_input_flags(gdq), np.packbits((gdq & JUMP_DET) != 0, axis=-1))


def test_primary_jumps_carry_what_the_single_pass_compared_with_its_threshold():
    # 11 differences: ten of 10 e and one of 510 e; median 10, sigma sqrt(10 + 1)
    primary = run(one_jump_ramp()).catalog
    primary = primary[primary["cause"] == "primary"]
    assert primary.meta["detection_path"] == "single_pass"
    assert primary["difference_dn"][0] == 510.0 and primary["difference_e"][0] == 510.0
    assert primary["significance_sigma"][0] == 500.0 / np.sqrt(11.0)


def test_primary_jumps_carry_what_the_iterative_search_compared_with_its_threshold():
    # differences 10, 10, 500, 10: the clipped median drops the largest, 10; sigma sqrt(10 + 1)
    data = np.array([10.0, 20.0, 30.0, 530.0, 540.0], np.float32)[None, :, None, None]
    table = run(data, gain=np.ones((1, 1)), read_noise=np.ones((1, 1))).catalog
    assert table.meta["detection_path"] == "iterative"
    assert rows(table) == {(0, 3, 0, 0)}
    assert table["significance_sigma"][0] == 490.0 / np.sqrt(11.0)


def test_sigma_clipped_jumps_lie_beyond_the_threshold_of_astropys_clipping():
    from astropy.stats import sigma_clip

    rng = np.random.default_rng(3)
    data = linear_ramps((30, 5, 7, 7)) + rng.normal(0, 1, (30, 5, 7, 7)).astype(np.float32)
    data[4, 3:, 2, 5] += 300
    result = run(data, minimum_sigclip_groups=10, flag_4_neighbors=False)
    table = result.catalog
    assert table.meta["detection_path"] == "sigma_clip"
    assert rows(table) == {(4, 3, 2, 5)} == new_flags(result, np.zeros(data.shape, np.uint8))
    diffs = np.diff(data[:, :, 2, 5], axis=1)[:, 2]  # difference 2 -> 3 of every integration
    assert sigma_clip(diffs, sigma=4.0, maxiters=5).mask[4]
    assert table["significance_sigma"][0] > 4.0
    assert table["difference_dn"][0] == np.float32(data[4, 3, 2, 5]) - np.float32(data[4, 2, 2, 5])


def test_a_search_that_flags_more_than_its_first_room_lists_every_flag():
    from jumpdet.twopoint import find_jumps_in_tile

    # 48 x 48 pixels, each with one jump: 2304 flags against a first room of 1024; the
    # clipped median drops the 510 e difference: 10 e, sigma sqrt(10 + 1)
    data = linear_ramps((1, 12, 48, 48))
    data[0, 6:] += 500
    gdq = np.zeros(data.shape, np.uint8)
    gain = read_noise = np.ones((48, 48), np.float32)
    flat, significance = find_jumps_in_tile(
        data, gdq, gain, read_noise, JumpParams(), "iterative", list_flags=True
    )
    assert_array_equal(np.sort(flat), np.flatnonzero(gdq & JUMP_DET))
    assert flat.size == 48 * 48
    assert_array_equal(significance, 500.0 / np.sqrt(11.0))


def test_the_single_pass_lists_no_flags_its_medians_give_their_values():
    from jumpdet.twopoint import find_jumps_in_tile

    data = one_jump_ramp()
    gdq = np.zeros(data.shape, np.uint8)
    with pytest.raises(ValueError, match="single pass lists no flags"):
        find_jumps_in_tile(data, gdq, ONES, ONES, JumpParams(), "single_pass", list_flags=True)


def test_single_pass_significance_is_jwsts_ratio_on_noisy_ramps():
    sim = simulate_ramp((1, 14, 24, 24), seed=5, jump_fraction=0.02)
    result = detect_jumps(
        sim.data, sim.groupdq, sim.pixeldq, gain=sim.gain, read_noise=sim.read_noise,
        params=JumpParams(), catalog=True,
    )  # fmt: skip
    primary = result.catalog[result.catalog["cause"] == "primary"]
    assert len(primary) > 5
    electrons = sim.data * sim.gain  # float32, as jwst
    electrons[(sim.groupdq & (SATURATED | DO_NOT_USE)) != 0] = np.nan
    diffs = np.diff(electrons, axis=1)
    median = np.nanmedian(diffs.astype(np.float64), axis=(0, 1))
    noise_e = (sim.read_noise * sim.gain).astype(np.float32)
    sigma = np.sqrt(np.abs(median) + (noise_e * noise_e).astype(np.float64) / 1.0)
    i, g, y, x = (np.asarray(primary[c]) for c in ("integration", "group", "y", "x"))
    d = diffs[i, g - 1, y, x]
    assert_array_equal(primary["difference_e"], d)
    assert_array_equal(
        primary["significance_sigma"], np.abs(d.astype(np.float64) - median[y, x]) / sigma[y, x]
    )
    assert np.all(primary["significance_sigma"] > 4.0)


def test_flags_cleared_on_unusable_groups_are_not_listed():
    data = one_jump_ramp()
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 6, 2, 3] = SATURATED  # the neighbour above is saturated: never flagged
    gdq[0, 9, 1, 1] = JUMP_DET | DO_NOT_USE  # cleared by the clean-up
    result = run(data, gdq)
    assert (0, 6, 2, 3) not in rows(result.catalog)
    assert rows(result.catalog) == new_flags(result, gdq)


@st.composite
def cases(draw):
    nints = draw(st.integers(1, 3))
    ngroups = draw(st.integers(3, 14))
    shape = (nints, ngroups, draw(st.integers(2, 9)), draw(st.integers(2, 9)))
    seed = draw(st.integers(0, 2**16))
    sim = simulate_ramp(
        shape, seed=seed, jump_fraction=0.05, saturation_dn=draw(st.sampled_from([None, 3000.0]))
    )
    rng = np.random.default_rng(seed)
    gdq = sim.groupdq.copy()
    extra = rng.random(shape) < 0.05
    gdq[extra] |= rng.choice(np.array([JUMP_DET, DO_NOT_USE, SATURATED | JUMP_DET], np.uint8), extra.sum())
    params = JumpParams(
        flag_4_neighbors=draw(st.booleans()),
        min_jump_to_flag_neighbors=draw(st.sampled_from([0.0, 10.0])),
        after_jump_flag_e1=draw(st.sampled_from([0.0, 200.0])),
        after_jump_flag_groups1=draw(st.integers(0, 3)),
        after_jump_flag_e2=1000.0,
        after_jump_flag_groups2=draw(st.integers(0, 5)),
        minimum_sigclip_groups=draw(st.sampled_from([2, 100])),
        only_use_ints=draw(st.booleans()),
    )
    return sim, gdq, params


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_catalogue_rows_are_exactly_the_flags_set_and_the_flags_do_not_change(case):
    sim, gdq, params = case
    arrays = (sim.data, gdq, sim.pixeldq)
    refs = {"gain": sim.gain, "read_noise": sim.read_noise, "params": params}
    with_catalog = detect_jumps(*arrays, **refs, catalog=True)
    without = detect_jumps(*arrays, **refs)
    assert_array_equal(with_catalog.groupdq, without.groupdq)
    assert with_catalog.stats.primary_jumps == without.stats.primary_jumps
    table = with_catalog.catalog
    assert rows(table) == new_flags(with_catalog, gdq) and len(table) == len(rows(table))
    primary = table[table["cause"] == "primary"]
    assert np.all(np.isfinite(primary["difference_e"]))
    assert np.all(np.isnan(table[table["cause"] != "primary"]["significance_sigma"]))


def large_event_case(kind):
    if kind == "snowball":
        ramp = snowball_ramp(nints=2, ngroups=6, shape=(96, 96), n_snowballs=6, cosmic_rays_per_group=5,
                             n_stars=0, edge_fraction=0.0, core_radius=(3.0, 6.0), seed=2)  # fmt: skip
        params = JumpParams(expand_large_events=True, snowball_groups_masked_next_int=3)
    else:
        ramp = shower_ramp(
            nints=1, ngroups=20, shape=(128, 136), n_showers=3, amplitude_sigma=(2.0, 4.0), seed=7
        )
        params = JumpParams(
            find_showers=True,
            shower_groups_masked_after=2,
            max_shower_amplitude_e_per_group=6.0,
            extend_min_area=40,
        )
    return ramp, params


@pytest.mark.parametrize("kind", ["snowball", "shower"])
def test_large_events_are_listed_with_their_event(kind):
    ramp, params = large_event_case(kind)
    arrays = (ramp.data, ramp.groupdq, ramp.pixeldq)
    refs = {"gain": ramp.gain, "read_noise": ramp.read_noise, "params": params}
    result = detect_jumps(*arrays, **refs, catalog=True)
    assert_array_equal(result.groupdq, detect_jumps(*arrays, **refs).groupdq)
    table = result.catalog
    assert rows(table) == new_flags(result, ramp.groupdq)
    events = table[np.isin(table["cause"], ["snowball", "snowball_core_next_int", "shower"])]
    assert len(events) > 0 and np.all(events["event_id"] > 0)
    assert set(np.unique(table["cause"])) >= {"primary", kind}
    if kind == "snowball":
        assert "snowball_core_next_int" in set(table["cause"])
        assert np.all(table[table["cause"] == "snowball_core_next_int"]["integration"] == 1)


def test_the_catalogue_is_written_as_ecsv_and_read_back(tmp_path):
    table = run(one_jump_ramp()).catalog
    path = write_catalog(table, tmp_path / "x_jumpcat.ecsv")
    back = read_catalog(path)
    assert list(back.columns) == list(table.columns) and len(back) == len(table)
    assert back.meta["coordinates"].startswith("0-based")
    assert back.meta["detection_path"] == "single_pass"  # plan.DetectionPath written as plain text
    assert back.meta["thresholds_sigma"]["rejection_threshold"] == 4.0
    assert str(back["difference_dn"].unit) == "DN"
    assert [p.name for p in tmp_path.iterdir()] == ["x_jumpcat.ecsv"]  # no temporary left


def test_the_ecsv_round_trip_is_exact_and_astropy_reads_it_alike(tmp_path):
    from astropy.table import Table

    sim = simulate_ramp((2, 12, 20, 24), seed=9, jump_fraction=0.02)
    table = detect_jumps(sim.data, sim.groupdq, sim.pixeldq, gain=sim.gain, read_noise=sim.read_noise,
                         params=JumpParams(), catalog=True).catalog  # fmt: skip
    path = write_catalog(table, tmp_path / "x_jumpcat.ecsv")
    ours, astropys = read_catalog(path), Table.read(path, format="ascii.ecsv")
    assert len(table) > 100 and ours.meta == astropys.meta
    for name in table.colnames:
        for back in (ours, astropys):
            assert name == "cause" or back[name].dtype == table[name].dtype
            assert back[name].unit == table[name].unit and back[name].description == table[name].description
            assert_array_equal(np.asarray(back[name]), np.asarray(table[name]).astype(back[name].dtype))


def written_values(tmp_path, values):
    """The cells of an ECSV catalogue column holding ``values``, and what astropy reads back."""
    from astropy.table import Table

    path = write_catalog(Table({"v": values}), tmp_path / "v_jumpcat.ecsv")
    cells = [line for line in path.read_text().splitlines() if not line.startswith("#")][1:]
    return cells, np.asarray(Table.read(path, format="ascii.ecsv")["v"])


def test_floats_are_written_as_the_shortest_decimals_that_read_back(tmp_path):
    values = np.array([0.0, -0.0, 510.0, 0.1, -12.5, 16777216.0, np.nan], np.float32)
    cells, back = written_values(tmp_path, values)
    assert [float(c) for c in cells[:6]] == [0.0, -0.0, 510.0, 0.1, -12.5, 16777216.0]
    assert "e" not in cells[3] and len(cells[3]) == 3  # 0.1, not float64's 0.10000000149011612
    assert cells[6] == "nan" and back.dtype == np.float32


@given(
    st.lists(st.floats(width=32, allow_infinity=False), min_size=1, max_size=50),
    st.lists(st.floats(allow_infinity=False), min_size=1, max_size=50),
)
@settings(
    max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_float_columns_read_back_exactly(tmp_path, singles, doubles):
    for values in (np.array(singles, np.float32), np.array(doubles)):
        _, back = written_values(tmp_path, values)
        assert back.dtype == values.dtype
        assert_array_equal(back, values)  # NaN where NaN
        numbers = ~np.isnan(values)
        assert_array_equal(np.signbit(back[numbers]), np.signbit(values[numbers]))  # -0.0 too


def test_a_name_with_a_space_is_refused(tmp_path):
    from astropy.table import Table

    with pytest.raises(ValueError, match="holds spaces"):
        write_catalog(Table({"cause": ["a b"]}), tmp_path / "x_jumpcat.ecsv")
    assert not list(tmp_path.iterdir())  # no file, not even a partial one


def test_the_step_writes_the_catalogue_beside_its_product(tmp_path):
    from jumpdet import JumpStep

    model = make_ramp_model(one_jump_ramp(), filename="obs_refpixstep.fits")
    gain, read_noise = make_references((7, 7), gain=1.0, read_noise=1.0)
    refs = {"override_gain": gain, "override_readnoise": read_noise}
    result = JumpStep.call(model, save_jump_catalog=True, save_results=True, output_dir=str(tmp_path), **refs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obs_jumpcat.ecsv", "obs_jumpstep.fits"]
    table = read_catalog(tmp_path / "obs_jumpcat.ecsv")
    assert rows(table) == {tuple(map(int, p)) for p in np.argwhere((result.groupdq & JUMP_DET) != 0)}
    assert table.meta["exposure"]["filename"] == "obs_refpixstep.fits"
    assert table.meta["exposure"]["instrument"] == "MIRI"
    assert_array_equal(result.groupdq, JumpStep.call(model, **refs).groupdq)


def catalogue_runs(tmp_path, model, runs):
    """Run the step with the catalogue on, once per set of parameters in ``runs``; the catalogues' bytes."""
    from jumpdet import JumpStep

    gain, read_noise = make_references(model.data.shape[2:], gain=1.0, read_noise=2.0)
    texts = []
    for k, extra in enumerate(runs):
        folder = tmp_path / str(k)
        folder.mkdir()
        JumpStep.call(model, override_gain=gain, override_readnoise=read_noise, save_jump_catalog=True,
                      output_dir=str(folder), **extra).close()  # fmt: skip
        texts.append((folder / "obs_jumpcat.ecsv").read_bytes())
    return texts


def test_the_catalogue_file_does_not_depend_on_threads_or_on_the_product_being_saved(tmp_path):
    # with the product saved, the catalogue is written on a thread while stpipe writes the product
    sim = simulate_ramp((1, 8, 256, 256), seed=5, jump_fraction=0.05)  # rows in more than one chunk
    model = make_ramp_model(sim.data, filename="obs_refpixstep.fits")
    runs = [
        {"maximum_cores": "1"},
        {"maximum_cores": "2"},
        {"save_results": True},
        {"save_results": True, "maximum_cores": "2"},
    ]
    texts = catalogue_runs(tmp_path, model, runs)
    assert len(set(texts)) == 1 and texts[0].count(b"\n") > ROWS_PER_CHUNK
    assert (tmp_path / "2" / "obs_jumpstep.fits").exists()


def test_a_catalogue_that_cannot_be_written_beside_the_product_fails_the_run(tmp_path, monkeypatch):
    import threading

    from jumpdet import JumpStep, step

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(step, "write_catalog", full_disk)
    model = make_ramp_model(one_jump_ramp(), filename="obs_refpixstep.fits")
    gain, read_noise = make_references((7, 7), gain=1.0, read_noise=1.0)
    threads = threading.active_count()
    with pytest.raises(OSError, match="No space left"):
        JumpStep.call(model, override_gain=gain, override_readnoise=read_noise, save_jump_catalog=True,
                      save_results=True, output_dir=str(tmp_path))  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["obs_jumpstep.fits"]  # saved while the catalogue failed
    assert threading.active_count() == threads


def test_a_product_that_cannot_be_saved_fails_the_run_after_its_catalogue_is_written(tmp_path, monkeypatch):
    from jumpdet import JumpStep, saving

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(saving, "write_atomically", full_disk)  # the product's writer, not the catalogue's
    model = make_ramp_model(one_jump_ramp(), filename="obs_refpixstep.fits")
    gain, read_noise = make_references((7, 7), gain=1.0, read_noise=1.0)
    with pytest.raises(OSError, match="No space left"):
        JumpStep.call(model, override_gain=gain, override_readnoise=read_noise, save_jump_catalog=True,
                      save_results=True, output_dir=str(tmp_path))  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["obs_jumpcat.ecsv"]
    assert len(read_catalog(tmp_path / "obs_jumpcat.ecsv")) > 0


def flags_with(ramp, **params):
    """JUMP_DET flags (as a set of positions) that detection sets with these parameters."""
    result = detect_jumps(ramp.data, ramp.groupdq, ramp.pixeldq, gain=ramp.gain, read_noise=ramp.read_noise,
                          params=JumpParams(**params))  # fmt: skip
    return new_flags(result, ramp.groupdq)


def test_each_cause_lists_exactly_the_flags_its_stage_adds():
    """From independent runs: the search alone, + neighbours, + after-jump groups, + snowballs."""
    ramp = snowball_ramp(nints=2, ngroups=8, shape=(96, 96), n_snowballs=6, cosmic_rays_per_group=15,
                         n_stars=0, edge_fraction=0.0, core_radius=(3.0, 6.0), seed=4)  # fmt: skip
    after = {"after_jump_flag_e1": 2000.0, "after_jump_flag_groups1": 2, "min_jump_to_flag_neighbors": 5.0}
    snowballs = {"expand_large_events": True, "snowball_groups_masked_next_int": 3}
    search = flags_with(ramp, flag_4_neighbors=False, **{**after, "after_jump_flag_groups1": 0})
    neighbours = flags_with(ramp, **{**after, "after_jump_flag_groups1": 0})
    post = flags_with(ramp, **after)
    every = flags_with(ramp, **after, **snowballs)
    result = detect_jumps(ramp.data, ramp.groupdq, ramp.pixeldq, gain=ramp.gain, read_noise=ramp.read_noise,
                          params=JumpParams(**after, **snowballs), catalog=True)  # fmt: skip
    table = result.catalog
    assert rows(table) == every
    assert rows(table, "primary") == search & every
    assert rows(table, "neighbour") == (neighbours - search) & every
    assert rows(table, "after_jump") == (post - neighbours) & every
    assert rows(table, "snowball") | rows(table, "snowball_core_next_int") == every - post
    for cause in ("primary", "neighbour", "after_jump", "snowball", "snowball_core_next_int"):
        assert rows(table, cause), cause  # every cause is present
