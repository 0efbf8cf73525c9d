"""Build the figures of ``docs/inspecting.rst`` from ``jumpdet demo``'s output.

    python docs/make_figures.py            # runs the demo in a temporary folder, writes docs/figures/*.png

One figure of each kind: the jump map, a pixel's ramp with its GROUPDQ, the
significance histogram of the catalogue, and the threshold tuning, all drawn
by :mod:`jumpdet.plotting` / :mod:`jumpdet.tune` as ``jumpdet report`` and
``jumpdet tune`` draw them (smaller, to keep the PNGs small).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent / "figures"


def main(outdir: Path = HERE) -> list[Path]:
    from stdatamodels.jwst.datamodels import RampModel

    from jumpdet import plotting
    from jumpdet.catalog import read_catalog
    from jumpdet.cli.demo import run_demo
    from jumpdet.tune import plot_tuning, tune_thresholds

    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        demo = run_demo(Path(tmp))
        table = read_catalog(demo.catalog_file)
        primary = table[table["cause"] == "primary"]
        strongest = primary[np.argmax(primary["significance_sigma"])]
        with RampModel(str(demo.output_file)) as model:
            data, groupdq = model.data, model.groupdq
            corner = np.s_[:, :, :256, :256]  # a corner: single hits stay visible at docs size
            fig = plotting.plot_jump_map(groupdq[corner], data[corner], integration=0)
            written.append(plotting.save_figure_png(fig, outdir / "jump_map.png", dpi=72))
            yx = (int(strongest["y"]), int(strongest["x"]))
            fig = plotting.plot_pixel_integrations(data, groupdq, yx)
            written.append(plotting.save_figure_png(fig, outdir / "pixel_ramp.png", dpi=72))
            group_time, nframes = model.meta.exposure.group_time, model.meta.exposure.nframes
            nints, ngroups = data.shape[:2]
        fig = plotting.plot_significance(table)
        written.append(plotting.save_figure_png(fig, outdir / "significance.png", dpi=72))
        gain, read_noise = _reference_medians(demo.input_file)
        result = tune_thresholds(nints=nints, ngroups=ngroups, gain=gain, read_noise=read_noise,
                                 group_time=group_time, nframes=nframes, pixels=192)  # fmt: skip
        print(result.text())
        written.append(plotting.save_figure_png(plot_tuning(result), outdir / "tuning.png", dpi=72))
    return written


def _reference_medians(ramp_file):
    """The demo's gain and read noise, from the references CRDS gives for it."""
    from stdatamodels.jwst.datamodels import RampModel

    from jumpdet.references.loading import load_references
    from jumpdet.step import JumpStep

    with RampModel(str(ramp_file)) as model:
        refs = load_references(JumpStep(), model)
    return float(np.nanmedian(refs.gain)), float(np.nanmedian(refs.read_noise))


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(f"{path} ({path.stat().st_size // 1024} kB)")
